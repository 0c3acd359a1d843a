package sluice

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// instantBase answers every request at once with a small JSON body, so
// that a benchmark measures the Transport and not a network.
type instantBase struct{}

func (instantBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"ok":true}`)),
		Request:    req,
	}, nil
}

// BenchmarkTransport measures what the Transport adds to each call: the
// anchor sends through the base alone, the other through a Transport with
// a concurrency limit, an attempt timeout and retries, as `sluice run` has.
func BenchmarkTransport(b *testing.B) {
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"anchor=base", instantBase{}},
		{"transport", &Transport{Base: instantBase{}, Limits: Limits{Concurrency: 64}, AttemptTimeout: time.Minute}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: bc.rt}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get("http://api.example/v1/x")
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
