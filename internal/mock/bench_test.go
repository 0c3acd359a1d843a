package mock

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkServe measures one request through ServeHTTP, from routing to
// the written body, for each style.
func BenchmarkServe(b *testing.B) {
	for _, bench := range []struct {
		style      Style
		path, body string
	}{
		{Generic, "/x", ""},
		{Anthropic, "/v1/messages", message(50, 400)},
		{OpenAI, "/v1/chat/completions", chat(50, 400)},
		{OpenAI, "/v1/embeddings", `{"model":"m","input":"` + strings.Repeat("x", 400) + `"}`},
	} {
		b.Run(string(bench.style)+bench.path, func(b *testing.B) {
			s, err := New(Config{Style: bench.style, Requests: Limit{1e12, time.Second}, Concurrency: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, httptest.NewRequest("POST", bench.path, strings.NewReader(bench.body)))
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
