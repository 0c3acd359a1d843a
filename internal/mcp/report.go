package mcp

import (
	"mime"
	"strings"
	"unicode/utf8"
)

// Report is what every tool returns: a call's summary and one page of its
// results, in input order.
type Report struct {
	Summary Summary `json:"summary"`
	// Offset is the position of the page's first item among those the
	// filter keeps; NextOffset is where the next page starts, 0 when this
	// page is the last.
	Offset     int          `json:"offset" jsonschema:"position of the page's first item among those the filter keeps"`
	NextOffset int          `json:"next_offset,omitempty" jsonschema:"get_results offset for the next page; absent when this page is the last"`
	Filter     string       `json:"filter,omitempty" jsonschema:"ok or failed when the page holds only those"`
	Items      []ItemReport `json:"items" jsonschema:"the page of results, in input order"`
	Note       string       `json:"note,omitempty" jsonschema:"what to do next, or why text was cut shorter than asked"`

	// limit and maxLength are the page's, as asked (defaults filled in),
	// for the text's hints to the next page.
	limit, maxLength int
}

// ItemReport is one item's result as a tool shows it.
type ItemReport struct {
	Index       int    `json:"index" jsonschema:"position in the call's input, from 0"`
	ID          string `json:"id" jsonschema:"the request's id, or its position from 1 when it gave none"`
	Method      string `json:"method"`
	URL         string `json:"url"`
	OK          bool   `json:"ok" jsonschema:"true for a 2xx response read whole or up to the body cap"`
	Pending     bool   `json:"pending,omitempty" jsonschema:"not finished yet"`
	Status      int    `json:"status,omitempty" jsonschema:"the HTTP status; absent when there was no response"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size" jsonschema:"body bytes received"`
	Truncated   bool   `json:"truncated,omitempty" jsonschema:"the body was longer than the server's body cap; the rest was not read"`
	Text        string `json:"text,omitempty" jsonschema:"the body as text, from start_index, cut to max_length bytes"`
	MoreFrom    int    `json:"more_from,omitempty" jsonschema:"the text stops before the body's end: get_results with start_index set to this reads on"`
	Binary      bool   `json:"binary,omitempty" jsonschema:"the body is not text and is not shown"`
	Partial     bool   `json:"partial,omitempty" jsonschema:"the server's result store was full: only the body's start was kept"`
	ErrorClass  string `json:"error_class,omitempty" jsonschema:"http_4xx, http_5xx, refused, dns, timeout, network, invalid, canceled, out_of_time, shared_unavailable (not sent: the shared limits cannot be asked; call again later)..."`
	Error       string `json:"error,omitempty"`
	Attempts    int    `json:"attempts,omitempty" jsonschema:"attempts made, retries included"`
	ElapsedMS   int64  `json:"elapsed_ms,omitempty"`
}

// pageTextBudget bounds the text of one page, whatever max_length and
// limit ask: a page is read by a model, whose context is precious.
const pageTextBudget = 100_000

// report builds a Report of c: limit items from offset among those
// filter keeps, each body's text from start, up to maxLen bytes.
func report(c *call, offset, limit int, filter string, start, maxLen int) Report {
	rep := Report{Summary: c.summary(), Offset: offset, Filter: filter, limit: limit, maxLength: maxLen}
	idx, results, next, held := c.page(offset, limit, filter)
	if next > 0 {
		rep.NextOffset = next
	}
	if held >= 0 {
		rep.Note = "filtered pages of a running call read the input in order up to the first item not finished (index " + itoa(held) +
			"), so that offsets stay put; call get_results again with offset " + itoa(max(next, offset)) + " for the items from there as they finish"
	}
	if n := len(results); n > 0 && maxLen*n > pageTextBudget {
		maxLen = pageTextBudget / n
		rep.Note = "text cut to " + itoa(maxLen) + " bytes an item so that the page stays under " + itoa(pageTextBudget) + " bytes; ask for fewer items to read more of each"
	}
	rep.Items = make([]ItemReport, len(results))
	var past []string // items whose kept body ends before start
	for i, r := range results {
		ir := ItemReport{
			Index: idx[i], ID: r.id, Method: r.method, URL: r.url, OK: r.ok, Pending: !r.finished,
			Status: r.status, ContentType: r.contentType, Size: r.size, Truncated: r.truncated,
			Partial: r.partial, ErrorClass: r.errClass, Error: r.err, Attempts: r.attempts,
			ElapsedMS: r.elapsed.Milliseconds(),
		}
		ir.Text, ir.MoreFrom, ir.Binary = textOf(r, start, maxLen)
		rep.Items[i] = ir
		if start > 0 && len(r.body) > 0 && start >= len(r.body) && !ir.Binary {
			past = append(past, "item "+itoa(idx[i])+" keeps "+itoa(len(r.body))+" bytes")
		}
	}
	if len(past) > 0 {
		// Without a word, an agent paging a body by a computed index
		// would take an empty text for an empty body.
		rep.Note = joinNotes("start_index "+itoa(start)+" is past the end of the body kept: "+strings.Join(past, ", "), rep.Note)
	}
	return rep
}

// textOf returns body[start:start+maxLen] of r as text, both ends moved
// to character boundaries, and where the rest starts (0 when nothing is
// left); binary bodies are not shown.
func textOf(r result, start, maxLen int) (text string, more int, binary bool) {
	body := r.body
	if len(body) == 0 {
		return "", 0, false
	}
	if !isText(r.contentType, body) {
		return "", 0, true
	}
	if start >= len(body) {
		return "", 0, false
	}
	if dec := charsetDecoder(r.contentType); dec != nil {
		return decodedText(dec, body, start, maxLen)
	}
	for start > 0 && start < len(body) && !utf8.RuneStart(body[start]) {
		start++
	}
	end := min(len(body), start+maxLen)
	for end < len(body) && end > start && !utf8.RuneStart(body[end]) {
		end--
	}
	if end == start && start < len(body) {
		// max_length is shorter than this character: it is shown whole
		// (up to 3 bytes over), never nothing with the rest starting
		// where it began, which a client reading on would ask for ever.
		for end++; end < len(body) && !utf8.RuneStart(body[end]); end++ {
		}
	}
	if end < len(body) {
		more = end
	}
	return strings.ToValidUTF8(string(body[start:end]), "\uFFFD"), more, false
}

// isText reports whether a body of this content type can be shown as
// text: text/*, JSON, XML, JavaScript, forms, YAML, CSV; with no type,
// when its start is valid UTF-8 without NUL bytes.
func isText(contentType string, body []byte) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		head := body[:min(len(body), 512)]
		for cut := 0; cut <= 3 && cut <= len(head); cut++ { // a character cut at 512
			if h := head[:len(head)-cut]; utf8.Valid(h) {
				return !strings.ContainsRune(string(h), 0)
			}
		}
		return false
	}
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	for _, s := range []string{"json", "xml", "javascript", "ecmascript", "x-www-form-urlencoded", "yaml", "csv", "graphql", "x-ndjson"} {
		if strings.Contains(mt, s) {
			return true
		}
	}
	return false
}
