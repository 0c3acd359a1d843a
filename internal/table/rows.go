package table

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// resultRow is one results row, queued; nil pointers are NULL.
type resultRow struct {
	id                     string
	line                   int
	status                 int
	response, responseText *string
	responseBytes          []byte // a body that is neither: nil for NULL
	metadata, request      *string
	requestID              *string
	attempts               int
	elapsedMS              float64
	inputTokens            *int64
	outputTokens           *int64
	fingerprint            *string
	at                     time.Time
	// again: the id has an earlier row (its request changed) that this one
	// replaces, moving it to the superseded table.
	again bool
}

// errorRow is one errors row, queued.
type errorRow struct {
	id                *string
	line              int
	class             string
	status            *int64
	message           string
	responseText      *string
	responseBytes     []byte // an answer response_text cannot hold whole; nil for NULL
	requestID         *string
	attempts          int
	metadata, request *string
	at                time.Time
}

func (r *resultRow) size() int {
	return len(r.id) + lenOf(r.response) + lenOf(r.responseText) + len(r.responseBytes) + lenOf(r.metadata) + lenOf(r.request) + 100
}

func (r *errorRow) size() int {
	return len(r.message) + lenOf(r.responseText) + len(r.responseBytes) + lenOf(r.metadata) + lenOf(r.request) + 100
}

func lenOf(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

// rowShaper turns what the runner hands over into rows, the way one store
// can take them.
type rowShaper struct {
	// strict: the store is PostgreSQL, whose text holds no NUL and whose
	// jsonb refuses some JSON that is valid (see jsonbSafe).
	strict bool
}

func (s rowShaper) result(it input.Item, r input.Response, u *sluice.Usage, now time.Time) resultRow {
	row := resultRow{id: it.ID, line: it.Line, status: r.Status, attempts: r.Attempts, elapsedMS: float64(r.Elapsed.Microseconds()) / 1000, at: now}
	// Each body goes where it is kept whole: JSON the database takes in
	// response, other text in response_text, and bytes no text column
	// holds (not UTF-8; in PostgreSQL, a NUL) in response_bytes, as they
	// came. They were U+FFFD in the text column, lossy yet succeeded
	// (outside review). The row keeps r.Body itself: the runner reads
	// each body into a slice of its own and hands it over.
	if !utf8.Valid(r.Body) {
		row.responseBytes = r.Body
	} else if body, ok := s.jsonBody(r.Body); ok {
		row.response = &body
	} else if s.strict && bytes.IndexByte(r.Body, 0) >= 0 {
		row.responseBytes = r.Body // not JSON, whose strings escape a NUL
	} else {
		row.responseText = ptr(string(r.Body))
	}
	row.metadata = s.json(it.Metadata)
	row.request = s.optText(it.Body)
	row.requestID = s.optText([]byte(r.RequestID))
	if u != nil {
		row.inputTokens, row.outputTokens = ptr(int64(u.InputTokens)), ptr(int64(u.OutputTokens))
	}
	if r.Fingerprint != 0 {
		row.fingerprint = ptr(fmt.Sprintf("%016x", r.Fingerprint))
	}
	return row
}

func (s rowShaper) failure(it input.Item, f input.Failure, now time.Time) errorRow {
	row := errorRow{id: ptr(s.text([]byte(it.ID))), line: it.Line, class: f.Class, message: s.text([]byte(f.Message)), attempts: f.Attempts, at: now}
	if f.Status != 0 {
		row.status = ptr(int64(f.Status))
	}
	// The runner cuts a long answer at a character's end, so a cut text
	// answer stays text.
	if s.holdsBytes(f.Body) {
		row.responseBytes = f.Body
	} else {
		row.responseText = s.optText(f.Body)
	}
	row.requestID = s.optText([]byte(f.RequestID))
	row.metadata = s.json(it.Metadata)
	row.request = s.optText(it.Body)
	return row
}

func (s rowShaper) badLine(b input.BadLine, now time.Time) errorRow {
	row := errorRow{line: b.Line, class: input.ClassBadLine, message: s.text([]byte(b.Reason)), at: now}
	if b.ID != "" {
		row.id = ptr(s.text([]byte(b.ID)))
	}
	return row
}

// jsonBody returns the body, valid UTF-8, for the JSON column, and
// whether it goes there: valid JSON (and, in PostgreSQL, JSON jsonb
// takes), compacted as the JSONL results hold it: SQLite keeps the text
// it is given (jsonb would drop the white space anyway), and most servers
// end a body with a newline. A body compact but for the space around it
// (most APIs') costs one byte loop beyond json.Valid, and one copy.
func (s rowShaper) jsonBody(body []byte) (string, bool) {
	if len(body) == 0 || !json.Valid(body) || (s.strict && !jsonbSafe(body)) {
		return "", false
	}
	if t := bytes.TrimSpace(body); compactJSON(t) {
		return string(t), true
	}
	var b bytes.Buffer
	b.Grow(len(body))
	json.Compact(&b, body) // valid: cannot fail
	return b.String(), true
}

// compactJSON reports whether the valid JSON value b has no white space
// outside its strings.
func compactJSON(b []byte) bool {
	in := false // within a string
	for i := 0; i < len(b); i++ {
		c := b[i]
		if in {
			switch c {
			case '\\':
				i++ // the escaped byte
			case '"':
				in = false
			}
			continue
		}
		switch c {
		case '"':
			in = true
		case ' ', '\t', '\n', '\r':
			return false
		}
	}
	return true
}

// json is m for a JSON column: nil for none; in PostgreSQL, JSON that jsonb
// would refuse has its NULs and lone surrogates made U+FFFD (jsonbFixed),
// so that its members stay queryable (metadata->>'title'), and what even
// that cannot mend is kept as a JSON string holding its text.
func (s rowShaper) json(m json.RawMessage) *string {
	if len(m) == 0 {
		return nil
	}
	if s.strict && json.Valid(m) && !jsonbSafe(m) {
		if fixed, ok := jsonbFixed(m); ok {
			return ptr(string(fixed))
		}
	}
	if !json.Valid(m) || (s.strict && !jsonbSafe(m)) {
		b, _ := json.Marshal(s.text(m))
		return ptr(string(b))
	}
	if !utf8.Valid(m) {
		m = bytes.ToValidUTF8(m, []byte("\uFFFD"))
	}
	return ptr(string(m))
}

// holdsBytes reports whether an error answer b goes to a
// response_bytes column, its text column unable to hold it whole: not
// UTF-8, or, in PostgreSQL, with a NUL.
func (s rowShaper) holdsBytes(b []byte) bool {
	return !utf8.Valid(b) || s.strict && bytes.IndexByte(b, 0) >= 0
}

// text is b as text the store takes: valid UTF-8 (as the JSONL results
// make it), and without NUL in PostgreSQL.
func (s rowShaper) text(b []byte) string {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	str := string(b)
	if s.strict && strings.IndexByte(str, 0) >= 0 {
		str = strings.ReplaceAll(str, "\x00", "\uFFFD")
	}
	return str
}

func (s rowShaper) optText(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	return ptr(s.text(b))
}

func ptr[T any](v T) *T { return &v }
