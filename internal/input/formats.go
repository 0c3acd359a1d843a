package input

import (
	"fmt"
	"strings"
)

// Format names an input format of `sluice run`. The zero value means
// [FormatAuto].
type Format string

// FormatAuto detects the format from the first line that is not blank or
// a comment (see [NewReader]). The formats themselves are declared each in
// its own file, with everything that makes it one (FormatURLs in urls.go,
// FormatHTTP in http.go, ...); DESIGN.md ("sluice run") describes each.
const FormatAuto Format = "auto"

// A format is everything the package knows of one input format. Adding a
// format is one file that declares its Format and its format value, plus
// its place in the two lists below.
type format struct {
	name Format
	// detect reports whether the first line of an input that matters is
	// in this format; nil for a format that is never detected.
	detect func(l *firstLine) bool
	// parse turns one line, number n, which is neither blank nor a comment
	// and is valid UTF-8, into an item (its Line is set by the caller), or
	// returns why the line cannot be run. It may use r's scratch space and
	// its base URL. nil for a format that reads records of its own.
	parse func(r *Reader, line []byte, n int) (Item, string)
	// records, for a format whose records are not single lines (csv),
	// starts reading them: it may read a header.
	records func(r *Reader) (recordReader, error)
	// needsBase is set when lines hold paths but no host: the input then
	// needs a base URL.
	needsBase bool
	// shape writes the format's results and errors lines.
	shape Shape
}

// recordReader reads the items of a format whose records are not lines.
type recordReader interface {
	next() (Item, *BadLine, error)
}

// formats are the formats, in the order --format's help and errors name
// them.
var formats = []*format{&urlsFormat, &httpFormat, &openAIFormat, &anthropicFormat, &csvFormat}

// detectOrder is the order in which detection asks the formats: the most
// particular first, since an anthropic or openai line is a JSON object
// that http would take too, and a JSON line or a URL may hold the comma
// that makes csv.
var detectOrder = []*format{&anthropicFormat, &openAIFormat, &httpFormat, &urlsFormat, &csvFormat}

// lookup returns the format named f, or nil.
func lookup(f Format) *format {
	for _, x := range formats {
		if x.name == f {
			return x
		}
	}
	return nil
}

// ParseFormat returns the Format named by s, ignoring case and surrounding
// space; "" is [FormatAuto].
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "" || f == FormatAuto {
		return FormatAuto, nil
	}
	if lookup(f) != nil {
		return f, nil
	}
	names := []string{string(FormatAuto)}
	for _, x := range formats {
		names = append(names, string(x.name))
	}
	return "", fmt.Errorf("input: unknown input format %s (want %s or %s)", quoteInput(s), strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// ShapeOf returns the shape of f's results and errors lines; that of http
// for a name that is not a format's.
func ShapeOf(f Format) Shape {
	if x := lookup(f); x != nil {
		return x.shape
	}
	return httpShape{}
}

// firstLine is the first line of an input that is neither blank nor a
// comment, as the formats' detect functions see it.
type firstLine struct {
	text    []byte // trimmed of space; not empty
	hasBase bool   // a base URL was given

	parsed   bool
	isObject bool        // text is a JSON object
	members  jsonMembers // its members
}

// object returns the line's members when it is a JSON object, parsing it
// once for all the formats that ask.
func (l *firstLine) object() (jsonMembers, bool) {
	if !l.parsed {
		l.parsed = true
		var reason string
		l.members, reason = jsonObject(l.text, nil)
		l.isObject = reason == ""
	}
	return l.members, l.isObject
}
