package mock_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/internal/mock"
)

// ExampleStart runs an Anthropic-style mock allowing 2 requests a minute
// and sends it three, the way a naive client would.
func ExampleStart() {
	limit, err := mock.ParseLimit("2/m")
	if err != nil {
		panic(err)
	}
	srv, err := mock.Start(mock.Config{Style: mock.Anthropic, Requests: limit, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	body := `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}`
	for range 3 {
		resp, err := http.Post(srv.URL()+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%s: remaining %s, retry-after %q\n", resp.Status, resp.Header.Get("anthropic-ratelimit-requests-remaining"), resp.Header.Get("retry-after"))
	}
	st := srv.Stats()
	fmt.Printf("accepted %d, throttled %d for requests\n", st.Accepted, st.Throttled["requests"])
	// Output:
	// 200 OK: remaining 1, retry-after ""
	// 200 OK: remaining 0, retry-after ""
	// 429 Too Many Requests: remaining 0, retry-after "30"
	// accepted 2, throttled 1 for requests
}

// ExampleParseLatency shows the latency distributions a mock can have.
func ExampleParseLatency() {
	for _, s := range []string{"200ms", "200ms±50ms", "p50=200ms,p99=2s"} {
		l, err := mock.ParseLatency(s)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-18s mean %v\n", l, l.Mean().Round(1e6))
	}
	// Output:
	// 200ms              mean 200ms
	// 200ms±50ms         mean 200ms
	// p50=200ms,p99=2s   mean 326ms
}
