package input

import (
	"slices"
	"testing"
)

// TestFormatsAreComplete protects the one-file-per-format registry: each
// format is in both lists once, can be named, reads its input one way or
// the other, and has a shape.
func TestFormatsAreComplete(t *testing.T) {
	if got, want := len(detectOrder), len(formats); got != want {
		t.Errorf("detectOrder has %d formats, formats %d", got, want)
	}
	for _, f := range formats {
		if n := slicesCount(formats, f); n != 1 {
			t.Errorf("%s is in formats %d times; want once", f.name, n)
		}
		if !slices.Contains(detectOrder, f) {
			t.Errorf("%s is not in detectOrder", f.name)
		}
		if got, err := ParseFormat(string(f.name)); err != nil || got != f.name {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, nil", f.name, got, err, f.name)
		}
		if (f.parse == nil) == (f.records == nil) {
			t.Errorf("%s: want exactly one of parse and records", f.name)
		}
		if f.shape == nil {
			t.Errorf("%s has no shape", f.name)
		}
		if ShapeOf(f.name) != f.shape {
			t.Errorf("ShapeOf(%s) is not the format's shape", f.name)
		}
	}
}

func slicesCount(fs []*format, f *format) int {
	n := 0
	for _, x := range fs {
		if x == f {
			n++
		}
	}
	return n
}

func TestParseFormatNamesTheFormats(t *testing.T) {
	_, err := ParseFormat("xml")
	if got, want := err.Error(), `input: unknown input format "xml" (want auto, urls, http, openai, anthropic or csv)`; got != want {
		t.Errorf("ParseFormat(xml) = %q; want %q", got, want)
	}
}
