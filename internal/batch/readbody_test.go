package batch

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBody checks readBody against io.ReadAll of the same limit, with
// and without a Content-Length, a wrong one included.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		body string
		size int64
	}{{"", 0}, {"", -1}, {`{"ok":true}`, 11}, {`{"ok":true}`, -1}, {`{"ok":true}`, 3}, {`{"ok":true}`, 40}, {strings.Repeat("x", 5000), -1}, {strings.Repeat("y", 5000), 5000}} {
		got, err := readBody(iotest.OneByteReader(strings.NewReader(tc.body)), tc.size, maxResponse)
		if err != nil || string(got) != tc.body {
			t.Errorf("readBody(%d bytes, size %d) = %d bytes, %v; want them all", len(tc.body), tc.size, len(got), err)
		}
	}
}

// TestReadBodyStopsPastTheLimit checks that readBody stops one byte past
// maxResponse, for send to refuse the body.
func TestReadBodyStopsPastTheLimit(t *testing.T) {
	got, err := readBody(io.LimitReader(zeros{}, maxResponse+100), -1, maxResponse)
	if err != nil || len(got) != maxResponse+1 {
		t.Errorf("readBody of a body over the limit: %d bytes, %v; want %d", len(got), err, maxResponse+1)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }
