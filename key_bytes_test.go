package sluice

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// bytesBody is a GetBody reader that holds the body in one buffer, as the
// proxy's kept copy does; read reports whether anything read it as a
// stream (a copy) rather than through Bytes.
type bytesBody struct {
	r    *strings.Reader
	b    []byte
	read bool
}

func (h *bytesBody) Bytes() []byte { return h.b }
func (h *bytesBody) Close() error  { return nil }
func (h *bytesBody) Read(p []byte) (int, error) {
	h.read = true
	return h.r.Read(p)
}

// A body that offers its bytes is read in place for the model key and
// the token estimate: a proxy's 20 MiB request was copied once more for
// each (64 MiB and 24 allocations an operation).
func TestBodyBytesReadInPlace(t *testing.T) {
	body := `{"messages":[],"max_tokens":10,"model":"m-1"}`
	var last *bytesBody
	req, _ := http.NewRequest("POST", "https://api.example/v1/messages", strings.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) {
		last = &bytesBody{r: strings.NewReader(body), b: []byte(body)}
		return last, nil
	}
	if got, want := KeyByModel(req), "api.example/m-1"; got != want {
		t.Errorf("KeyByModel = %q; want %q", got, want)
	}
	if last == nil || last.read {
		t.Errorf("the body was read as a stream (%v); want it read through Bytes, in place", last != nil)
	}
	data, pooled, err := bodyBytes(&bytesBody{r: strings.NewReader(body), b: []byte(body)})
	if err != nil || pooled != nil || string(data) != body {
		t.Errorf("bodyBytes = %q, pooled %v, %v; want the held bytes, no buffer", data, pooled != nil, err)
	}
}
