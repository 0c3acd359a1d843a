package apitest

import (
	"net/http"
	"net/http/httptest"
)

// RoundTripper serves requests with Handler in-process, without a network,
// so that tests under testing/synctest see only fake time. A request whose
// context ends first fails with the context's error, as over a network.
type RoundTripper struct {
	Handler http.Handler
}

// RoundTrip calls the handler and returns what it wrote.
func (rt RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt.Handler.ServeHTTP(rec, req)
	}()
	select {
	case <-done:
		resp := rec.Result()
		resp.Request = req
		return resp, nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}
