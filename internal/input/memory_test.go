package input

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// heapBudget is how much the heap may grow while a Reader streams a large
// input. Reading it whole would take 50 MB or more.
const heapBudget = 16 << 20

// heapWatch records the peak of the heap above where it stood at start.
type heapWatch struct {
	base, peak uint64
	every, n   int // sample once every every calls to maybe
}

func newHeapWatch(every int) *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapWatch{base: ms.HeapAlloc, peak: ms.HeapAlloc, every: every}
}

func (h *heapWatch) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // stops the world: sample, don't poll
	h.peak = max(h.peak, ms.HeapAlloc)
}

func (h *heapWatch) maybe() {
	if h.n++; h.n%h.every == 0 {
		h.sample()
	}
}

func (h *heapWatch) check(t *testing.T) {
	t.Helper()
	h.sample()
	if grown := h.peak - h.base; grown > heapBudget {
		t.Errorf("the heap grew by %d MiB while streaming, want at most %d MiB", grown>>20, heapBudget>>20)
	}
}

// lineGen is an input made line by line as it is read: size bytes of
// whole lines from line, which appends line i (0-based) to b.
type lineGen struct {
	line   func(b []byte, i int) []byte
	size   int64
	onRead func()

	i       int
	made    int64
	buf     []byte
	pending []byte
}

func (g *lineGen) Read(p []byte) (int, error) {
	if g.onRead != nil {
		g.onRead()
	}
	for len(g.pending) == 0 {
		if g.made >= g.size {
			return 0, io.EOF
		}
		g.buf = g.line(g.buf[:0], g.i)
		g.pending = g.buf
		g.i++
		g.made += int64(len(g.buf))
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

// repeated is n bytes of pattern repeated, calling onRead on every Read.
type repeated struct {
	pattern string
	n       int64
	onRead  func()
	block   []byte // the pattern repeated to at least 64 KiB
	off     int    // where in block the next byte is
}

func (r *repeated) Read(p []byte) (int, error) {
	r.onRead()
	if r.n == 0 {
		return 0, io.EOF
	}
	if r.block == nil {
		r.block = []byte(strings.Repeat(r.pattern, (64<<10)/len(r.pattern)+1))
	}
	// Whole patterns fit in block[r.off:] as long as off < len(pattern).
	n := copy(p[:min(int64(len(p)), r.n)], r.block[r.off:])
	r.off = (r.off + n) % len(r.pattern)
	r.n -= int64(n)
	return n, nil
}

// A 50 MB input streams through in bounded memory, every line read.
func TestReaderStreamsLargeInput(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 50 MB")
	}
	const size = 50 << 20
	pad := strings.Repeat("x", 1000) // lines of about 1 KiB, like a short prompt
	gen := &lineGen{size: size, line: func(b []byte, i int) []byte {
		if i%1000 == 999 {
			return append(b, "not json\n"...)
		}
		b = append(b, `{"id":"item-`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","url":"/v1/items/`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","body":{"pad":"`...)
		b = append(b, pad...)
		return append(b, "\"}}\n"...)
	}}
	heap := newHeapWatch(4096)
	r, err := NewReader(gen, Options{BaseURL: "https://api.example"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != FormatHTTP {
		t.Fatalf("Format() = %q, want http", r.Format())
	}
	items, bad := 0, 0
	for {
		heap.maybe()
		it, err := r.Next()
		var bl *BadLine
		switch {
		case err == io.EOF:
		case errors.As(err, &bl):
			if bl.Line%1000 != 0 {
				t.Fatalf("unexpected %v", bl)
			}
			bad++
			continue
		case err != nil:
			t.Fatal(err)
		default:
			if want := fmt.Sprintf("item-%d", it.Line-1); it.ID != want {
				t.Fatalf("line %d: id %q, want %q", it.Line, it.ID, want)
			}
			items++
			continue
		}
		break
	}
	if items+bad != gen.i || bad != gen.i/1000 {
		t.Errorf("read %d items and %d bad lines, want %d lines of which %d bad", items, bad, gen.i, gen.i/1000)
	}
	heap.check(t)
}

// A line far over the cap is skipped without being held: the heap stays
// small while the reader goes through it, and the next line is read.
func TestReaderSkipsHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100 MB")
	}
	const huge = 100 << 20
	for _, tc := range []struct {
		format        Format
		before, after string
		filler        string
		next          Item
		badLine       int
	}{
		{FormatURLs, "https://a.example/", "\nhttps://a.example/next\n", "a",
			Item{ID: "https://a.example/next", Line: 2, Method: "GET", URL: "https://a.example/next"}, 1},
		{FormatHTTP, `{"url":"https://a.example/","body":"`, "\"}\r\n" + `{"url":"https://a.example/next"}`, "a",
			Item{ID: "2", Line: 2, Method: "GET", URL: "https://a.example/next"}, 1},
		// A quoted csv field of 100 MB on one line: the record is
		// skipped to the end of its first line, which holds it.
		{FormatCSV, "url,text\nhttps://a.example/,\"", "\"\nhttps://a.example/next,ok\n", "y",
			Item{ID: "3", Line: 3, Method: "GET", URL: "https://a.example/next"}, 2},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			heap := newHeapWatch(64)
			in := io.MultiReader(strings.NewReader(tc.before),
				&repeated{pattern: tc.filler, n: huge, onRead: heap.maybe},
				strings.NewReader(tc.after))
			r, err := NewReader(in, Options{Format: tc.format, MaxLine: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			kind := "line"
			if tc.format == FormatCSV {
				kind = "record"
			}
			checkResults(t, drain(t, r), []any{
				BadLine{Line: tc.badLine, Reason: kind + " over the 1 MiB cap"},
				tc.next,
			})
			heap.check(t)
		})
	}
}

// A stray quote in a csv record runs on over 32 MiB of valid rows, far
// past the cap: the record is held up to the cap, never whole, and every
// row after its first line still runs.
func TestReaderCSVStrayQuoteOverTheCapStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 32 MB")
	}
	const size = 32 << 20
	row := "https://a.example/," + strings.Repeat("y", 4096-len("https://a.example/,\n")) + "\n"
	heap := newHeapWatch(64)
	in := io.MultiReader(strings.NewReader("url,text\nhttps://a.example/,\"stray\n"),
		&repeated{pattern: row, n: size, onRead: heap.maybe})
	r, err := NewReader(in, Options{Format: FormatCSV, MaxLine: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	items := 0
	for n := 2; ; n++ {
		it, err := r.Next()
		if err == io.EOF {
			break
		}
		if n == 2 {
			want := "line 2: record over the 1 MiB cap: the quoted field opened at line 2, column 20 runs on past it (a stray quote?); the lines after line 2 are read again from line 3"
			if err == nil || err.Error() != want {
				t.Fatalf("line 2: got %v, want %s", err, want)
			}
			continue
		}
		if err != nil || it.Line != n {
			t.Fatalf("line %d: got item of line %d, err %v", n, it.Line, err)
		}
		items++
	}
	if items != size/len(row) {
		t.Errorf("%d rows ran, want %d", items, size/len(row))
	}
	heap.check(t)
}
