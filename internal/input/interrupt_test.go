package input

import (
	"errors"
	"testing"
)

// aForever is a line that never ends.
type aForever struct{ read int }

func (a *aForever) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	a.read += len(p)
	return len(p), nil
}

// A reader skipping a line over MaxLine that never ends stops at Done:
// reading /dev/zero heard no interrupt (an outside review).
func TestReaderStopsInAnEndlessLineWhenDone(t *testing.T) {
	done := make(chan struct{})
	close(done)
	in := &aForever{}
	r, err := NewReader(in, Options{Format: FormatURLs, MaxLine: 1 << 10, Done: done})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Next: %v, want ErrInterrupted", err)
	}
	if in.read > 1<<20 {
		t.Errorf("read %d bytes of the line after Done", in.read)
	}
}
