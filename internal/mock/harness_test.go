package mock

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// newTestServer returns a Server for cfg, closed when the test ends. Under
// testing/synctest, call it inside the bubble.
func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// do sends one request straight to s.ServeHTTP.
func do(s *Server, method, path, body string) *httptest.ResponseRecorder {
	return doContext(context.Background(), s, method, path, body)
}

func doContext(ctx context.Context, s *Server, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// doAll sends n copies of a request at once, each from its own goroutine,
// and returns the responses once all are done.
func doAll(s *Server, n int, method, path, body string) []*httptest.ResponseRecorder {
	out := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = do(s, method, path, body) })
	}
	wg.Wait()
	return out
}

// statuses counts responses by status code.
func statuses(ws []*httptest.ResponseRecorder) map[int]int {
	m := map[int]int{}
	for _, w := range ws {
		m[w.Code]++
	}
	return m
}

// jsonBody decodes a response body as JSON.
func jsonBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", w.Body.String(), err)
	}
	return v
}

// path returns the value at a dotted path of decoded JSON, such as
// "error.type" or "content.0.text".
func path(v any, p string) any {
	for _, k := range strings.Split(p, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// checkInvariant checks that every request that arrived is accounted for,
// once none is in flight.
func checkInvariant(t *testing.T, s *Server) {
	t.Helper()
	st := s.Stats()
	sum := st.Accepted + st.ThrottledTotal() + st.Failed + st.Resets + st.Invalid + st.Canceled
	if st.InFlight != 0 || sum != st.Requests {
		t.Errorf("stats %+v: in flight %d, accounted %d, want 0 in flight and %d accounted", st, st.InFlight, sum, st.Requests)
	}
}

// message is an Anthropic request body with a prompt of n bytes.
func message(maxTokens, promptBytes int) string {
	b, _ := json.Marshal(map[string]any{
		"model":      "claude-test",
		"max_tokens": maxTokens,
		"messages":   []map[string]any{{"role": "user", "content": strings.Repeat("x", promptBytes)}},
	})
	return string(b)
}

// chat is an OpenAI chat request body with a prompt of n bytes.
func chat(maxTokens, promptBytes int) string {
	b, _ := json.Marshal(map[string]any{
		"model":      "gpt-test",
		"max_tokens": maxTokens,
		"messages":   []map[string]any{{"role": "user", "content": strings.Repeat("x", promptBytes)}},
	})
	return string(b)
}

var _ http.Handler = (*Server)(nil)
