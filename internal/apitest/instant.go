package apitest

import (
	"io"
	"net/http"
	"strings"
)

// Instant answers every request at once with 200 and a small JSON body,
// with no goroutine and no network: benchmarks put it under what they
// measure, so that they measure only that.
type Instant struct{}

// RoundTrip returns the answer.
func (Instant) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"ok":true}`)),
		Request:    req,
	}, nil
}
