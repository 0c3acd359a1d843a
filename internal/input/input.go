// Package input reads the inputs of `sluice run`: the formats (urls, http,
// openai, anthropic, csv), detecting which one a file is in, the checks
// that turn a line into a request or the reason it cannot be one, and the
// shape of each format's results and errors lines. It knows no HTTP client
// and no rate limit, so every face (the batch runner, the MCP tools) can
// validate requests the same way without importing another face.
//
// Each format is one file (urls.go, http.go, ...); the JSON lines formats
// share json.go's scanner, which also reads ids back from results lines
// (lineid.go).
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Item is one request to make, as read from one line (or CSV record) of
// the input.
type Item struct {
	// ID names the item in the results. urls: the URL as the line gives
	// it, without surrounding space (so inserting a line shifts no id, and
	// a path stays the same id whatever the base URL).
	// http: the "id" field (a string as is; a number in decimal without
	// exponent, as [LineID] formats it) or, when absent or null, the line
	// number. openai, anthropic: custom_id. csv: the column Options.IDColumn
	// names, else the "id" column if the header has one, else the line
	// number the record starts on.
	ID     string
	Line   int         // 1-based line number in the input; for csv, the line where the record starts
	Method string      // upper-case, one of GET HEAD POST PUT PATCH DELETE OPTIONS
	URL    string      // absolute http or https URL
	Header http.Header // extra headers from the line (http format); nil when there are none
	// Body is the request body, nil for none. http: the "body" value
	// encoded compactly, or, when it is a JSON string, the string's
	// contents as they are (not quoted). openai: the "body" object encoded
	// compactly; anthropic: the "params" object encoded compactly; csv:
	// the output of the body template.
	Body []byte
	// Raw is, for openai and anthropic lines, the "body" or "params" object
	// (for estimating tokens): the same bytes as Body. It is nil otherwise.
	Raw json.RawMessage

	// parsedURL is URL parsed, when the reader made the item: the request
	// is built from it rather than parsing URL a second time. Items share
	// it (anthropic) and nothing may change it.
	parsedURL *url.URL

	// NumberID is set when ID stands for a number: a line number, or an
	// http "id" given as a JSON number. Results write such an id as a
	// JSON number when it is an integer in canonical form; every other id
	// is written as a string, whatever it looks like, so that a csv id
	// column of "10" and "020" gives "10" and "020" (issue 10, item 10).
	NumberID bool
	// Metadata is carried unchanged into the item's results and errors
	// lines as their "metadata" member: the line's "metadata" object
	// (http, openai, anthropic), or for csv the columns the request does
	// not use, as an object of strings in header order. nil for none.
	Metadata json.RawMessage
}

// ParsedURL returns URL parsed, for building the request without parsing
// URL again, or nil when the item was not made by a [Reader]. Items may
// share it and nothing may change it.
func (it Item) ParsedURL() *url.URL { return it.parsedURL }

// BadLine is a line (or CSV record) of the input that cannot be run. The
// runner reports it and reads on: [Reader.Next] returns it as a *BadLine
// error.
type BadLine struct {
	Line   int    // 1-based line number; for csv, the line where the record starts
	Reason string // why the line cannot be run, e.g. "missing custom_id"
	// ID is the line's id when it could still be read (a JSON line whose
	// custom_id or id is fine while something else is wrong), so that
	// the errors file says which item failed; "" when it could not.
	ID string
	// RepeatedID is, for a line whose id an earlier line already has,
	// that id, its ID being "": the errors file names it apart from the
	// line's id (repeated_id), since the earlier line ran, and a reader
	// keyed by id must not take the repeat's errors line for its failure.
	RepeatedID string
}

// Error returns "line N: reason".
func (b BadLine) Error() string { return "line " + strconv.Itoa(b.Line) + ": " + b.Reason }

// defaultInputMaxLine is the longest input line accepted when
// Options.MaxLine is 0.
const defaultInputMaxLine = 10 << 20

// Options configures [NewReader]. The zero value reads any format but
// csv, openai and anthropic (those two need BaseURL) with 10 MiB lines.
type Options struct {
	// Format is the input's format; "" or FormatAuto detects it from the
	// first line that is neither blank nor a comment (see [NewReader]).
	Format Format
	// BaseURL is an absolute http or https URL, without query or fragment:
	// the API's root, such as https://api.openai.com (no /v1). A relative
	// URL in urls, http and csv input, which must start with "/", is
	// appended to it, as is the url path of openai lines; anthropic lines
	// go to BaseURL + "/v1/messages". Appending (not RFC 3986 resolution)
	// keeps a path in BaseURL, such as a proxy's route prefix.
	BaseURL string
	// MaxLine is the longest line accepted, in bytes, not counting the
	// line break; for csv it bounds a whole record, which may span lines.
	// 0 means 10 MiB. A longer line is a bad line, skipped without being
	// held in memory.
	MaxLine int
	// Template is the csv request body: a text/template executed with the
	// record as a map from column name to value, so {{.prompt}} is the
	// "prompt" column ({{index . "first name"}} for names that are not
	// identifiers). Naming a column the header lacks is an error. Besides
	// the text/template built-ins, {{json .prompt}} gives the value as a
	// JSON string, quoted and escaped. Only for csv; optional there: with
	// no Template the requests have no body.
	Template string
	// URL is the csv request URL, a text/template like Template (the
	// built-in urlquery escapes a value for a query). "" means the "url"
	// column, which the header must then have. Only for csv.
	URL string
	// Method is the csv request method; "" means POST when there is a
	// Template, else GET. Only for csv.
	Method string
	// IDColumn names the csv column that holds each record's id; the
	// header must have it. "" means the "id" column when there is one,
	// else the line the record starts on (which inserting a line shifts).
	// Only for csv.
	IDColumn string
	// Check, when set, is asked about each item the reader makes; a
	// reason it returns makes the item a bad line, with the item's line
	// and id. It is for what a face knows and the formats do not, such
	// as a max_tokens the token estimate refuses: every reader of the
	// input with these options then sees the same bad lines.
	Check func(Item) (reason string)
	// Done, when closed, ends a read that is skipping a line longer than
	// MaxLine with ErrInterrupted, between two chunks: such a line can
	// go on for ever (/dev/zero), and a reader skipping it heard no
	// interrupt. Nil never ends one.
	Done <-chan struct{}
}

// ErrInterrupted is the error of a read ended by Options.Done in the
// middle of a line longer than MaxLine.
var ErrInterrupted = errors.New("input: interrupted in the middle of a line over the maximum length")

// Reader reads the items of an input, one line at a time: memory stays at
// one line (at most MaxLine bytes) plus a 64 KiB buffer, whatever the
// input's size. Make one with [NewReader] (the zero Reader is not usable)
// and call [Reader.Next] until it returns io.EOF. Reading costs a few
// passes over each line: JSON lines go at about 15 MB/s on one core of a
// small cloud VM (BenchmarkReader), far more than any rate-limited API
// takes.
//
// In every format blank lines are skipped; so are comment lines (whose
// first character that is not white space is '#'), except in csv,
// where they are skipped only before the header (after it, a record may
// begin with '#'). A UTF-8 byte order mark at the start of the input is
// skipped. Lines may end in "\n" or "\r\n"; the last one need not end at
// all.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	format  *format
	base    string // BaseURL without its trailing "/"; "" when not given
	maxStr  string // MaxLine for reasons, such as "10 MiB"
	lines   *lineReader
	records recordReader // for a format whose records are not lines (csv)
	err     error        // sticky: io.EOF or the read error that stopped the reader

	csvTemplates csvTemplates // the csv options, parsed
	check        func(Item) string

	members     jsonMembers // scratch for the JSON formats, reused line after line
	messagesURL *url.URL    // anthropic: base + /v1/messages, parsed once
}

// NewReader returns a Reader of r's items. It checks opts and returns an
// error, meant for the user as a usage error, when they are wrong: an
// unknown format, a bad BaseURL, MaxLine, Method or template, csv options
// with a format other than csv, openai or anthropic without BaseURL, a csv
// input with no header or no way to build a URL.
//
// With FormatAuto (or ""), NewReader reads up to the first line that is
// neither blank nor a comment and picks the format from it:
//   - a JSON object with "custom_id" and "params": anthropic;
//   - a JSON object with "custom_id" and "body" or "url": openai;
//   - any other line starting with "{": http;
//   - an absolute http or https URL, or, when BaseURL is given, a path
//     starting with "/": urls;
//   - a line with a comma: csv.
//
// The line is not lost: Next reads it again. A line that fits none of
// these is taken for a csv header when opts sets Template, URL or Method,
// which only csv uses (a header of one column has no comma); otherwise
// NewReader fails with "cannot tell the input's format". An input without
// such a line is an empty urls input (csv, with csv options), which has no
// items.
//
// For csv NewReader also reads the header record. Either way it may block
// until r has data. Its errors name the command-line flags (--template,
// --base-url) that set the options.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	name, err := ParseFormat(string(opts.Format))
	if err != nil {
		return nil, err
	}
	maxLine := opts.MaxLine
	switch {
	case maxLine < 0:
		return nil, fmt.Errorf("input: MaxLine must not be negative, got %d", maxLine)
	case maxLine == 0:
		maxLine = defaultInputMaxLine
	}
	base, err := checkBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	rd := &Reader{
		format: lookup(name),
		base:   base,
		maxStr: byteSize(maxLine),
		lines:  newLineReader(r, maxLine, opts.Done),
		check:  opts.Check,
	}
	csvOpts := opts.Template != "" || opts.URL != "" || opts.Method != "" || opts.IDColumn != ""
	if csvOpts {
		if rd.csvTemplates, err = parseCSVTemplates(opts); err != nil {
			return nil, err
		}
	}
	if rd.format == nil { // FormatAuto
		if rd.format, err = rd.detect(csvOpts); err != nil {
			return nil, err
		}
	}
	switch {
	case csvOpts && rd.format != &csvFormat:
		return nil, fmt.Errorf("input: --template, --url, --method and --id-column are for csv input, and the input is %s", rd.format.name)
	case rd.format.needsBase && base == "":
		return nil, fmt.Errorf("input: %s input needs a base URL (--base-url or --api)", rd.format.name)
	case rd.format.records != nil:
		if rd.records, err = rd.format.records(rd); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// BaseURL returns the base URL relative URLs are appended to, without a
// trailing "/"; "" when none was given.
func (r *Reader) BaseURL() string { return r.base }

// Format returns the format in use: the one given, or the one detected.
func (r *Reader) Format() Format { return r.format.name }

// Next returns the next item. For a line that cannot be run it returns a
// *BadLine error; call Next again to go on. At the end of the input it
// returns io.EOF; when the input cannot be read, another error, which it
// then returns on every call.
func (r *Reader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	var it Item
	var bad *BadLine
	var err error
	if r.records != nil {
		it, bad, err = r.records.next()
	} else {
		it, bad, err = r.nextLine()
	}
	switch {
	case err != nil:
		if err != io.EOF {
			err = fmt.Errorf("input: reading the input after line %d: %w", r.lines.n, err)
		}
		r.err = err
		return Item{}, err
	case bad != nil:
		return Item{}, bad
	}
	if r.check != nil {
		if reason := r.check(it); reason != "" {
			return Item{}, &BadLine{Line: it.Line, Reason: reason, ID: it.ID}
		}
	}
	return it, nil
}

// nextLine is Next for the formats read a line at a time.
func (r *Reader) nextLine() (Item, *BadLine, error) {
	for {
		line, n, over, err := r.lines.next()
		if err != nil {
			return Item{}, nil, err
		}
		if over {
			return Item{}, r.overCap(n, "line"), nil
		}
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' {
			continue
		}
		if reason := checkUTF8(line); reason != "" {
			return Item{}, &BadLine{Line: n, Reason: reason}, nil
		}
		it, reason := r.format.parse(r, line, n)
		if reason != "" {
			id, _ := LineID(line)
			return Item{}, &BadLine{Line: n, Reason: reason, ID: id}, nil
		}
		it.Line = n
		return it, nil, nil
	}
}

// overCap is the bad line for a line (or record) longer than MaxLine.
func (r *Reader) overCap(n int, what string) *BadLine {
	return &BadLine{Line: n, Reason: what + " over the " + r.maxStr + " cap"}
}

// SetContentType labels a request with a body JSON when h names no
// Content-Type: an http line's body is JSON, or a string sent as it is
// that the APIs these runs call take as JSON. sluice run and sluice mcp
// label their requests alike.
func (it Item) SetContentType(h http.Header) {
	if it.Body != nil && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
}
