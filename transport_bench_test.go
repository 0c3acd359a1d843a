package sluice

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

// BenchmarkTransport measures what the Transport adds to each call: the
// anchor sends through the base alone, "transport" through a Transport with
// a concurrency limit, an attempt timeout and retries, as `sluice run` has,
// and "transport-library" through the Transport a library user writes,
// Limits{Concurrency: 64} and nothing else, "transport-window" through that
// one with a window that never refuses (what a window costs a call, the
// trace that dates it when it leaves, transport_sent.go, included),
// "transport-rate" with a rate that never refuses (the same trace, which
// tells the rate of a call that left late), and "transport-zero" through the zero Transport (its adaptive ceiling
// starts at DefaultConcurrency).
func BenchmarkTransport(b *testing.B) {
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"anchor=base", apitest.Instant{}},
		{"transport", &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 64}, AttemptTimeout: time.Minute}},
		{"transport-library", &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 64}}},
		{"transport-window", &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 64, Window: Rate{N: 1e9, Per: 1e9}}}},
		{"transport-rate", &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 64, Rate: Rate{N: 1e9, Per: 1e9}}}},
		{"transport-zero", &Transport{Base: apitest.Instant{}}},
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
