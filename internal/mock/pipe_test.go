package mock

import (
	"net/http"
	"net/http/httptest"
	"strings"
)

// pipeWriter is a ResponseWriter that hands every flushed write to a
// channel, so that a test can watch a stream arrive.
type pipeWriter struct {
	h   http.Header
	buf strings.Builder
	ch  chan string
}

func newPipeWriter() (<-chan string, *pipeWriter) {
	w := &pipeWriter{h: http.Header{}, ch: make(chan string, 100)}
	return w.ch, w
}

func (w *pipeWriter) Header() http.Header         { return w.h }
func (w *pipeWriter) WriteHeader(int)             {}
func (w *pipeWriter) Write(b []byte) (int, error) { return w.buf.Write(b) }
func (w *pipeWriter) Flush() {
	if w.buf.Len() > 0 {
		w.ch <- w.buf.String()
		w.buf.Reset()
	}
}
func (w *pipeWriter) close() {
	w.Flush()
	close(w.ch)
}

func newStreamRequest(body string) *http.Request {
	return httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
}
