package sluice

import (
	"io"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/internal/apitest"
)

// BenchmarkTransportWindow is BenchmarkTransport's "transport-library"
// with a window that never refuses: what a window costs a call, the trace
// that dates it when it leaves (transport_sent.go) included.
func BenchmarkTransportWindow(b *testing.B) {
	tr := &Transport{Base: apitest.Instant{}, Limits: Limits{Concurrency: 64, Window: Rate{N: 1e9, Per: 1e9}}}
	client := &http.Client{Transport: tr}
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
}
