package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// mockGoroutines returns the stacks of goroutines running this package's
// code, other than the test's own.
func mockGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/mock.(*Server)") || strings.Contains(g, "internal/mock.Start") {
			out = append(out, g)
		}
	}
	return out
}

func TestStartURLClose(t *testing.T) {
	s, err := Start(Config{Style: OpenAI, Latency: FixedLatency(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if u := s.URL(); !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("URL %q; want http://127.0.0.1:port", u)
	}
	// Requests in flight (an hour of latency) do not hold Close up.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			resp, err := client.Post(s.URL()+"/v1/chat/completions", "application/json", strings.NewReader(chat(10, 8)))
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); s.Stats().InFlight < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("requests never arrived: %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if g := mockGoroutines(); len(g) == 0 {
		t.Fatalf("no goroutines of the server while it serves")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if g := mockGoroutines(); len(g) != 0 {
		t.Errorf("goroutines left after Close:\n%s", strings.Join(g, "\n\n"))
	}
	for range 3 {
		if err := <-errs; err == nil {
			t.Errorf("a request cut short by Close succeeded")
		}
	}
	if st := s.Stats(); st.Canceled != 3 || st.InFlight != 0 {
		t.Errorf("stats %+v; want 3 canceled", st)
	}
	if _, err := client.Get(s.URL() + "/"); err == nil {
		t.Errorf("request after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewHasNoURL(t *testing.T) {
	s := newTestServer(t, Config{})
	if u := s.URL(); u != "" {
		t.Errorf("URL of a Server made with New = %q; want empty", u)
	}
}

func TestStatsEndpoint(t *testing.T) {
	s, err := Start(Config{Style: Anthropic, Requests: Limit{1, time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 {
		resp, err := http.Post(s.URL()+"/v1/messages", "application/json", strings.NewReader(message(10, 8)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	http.Post(s.URL()+"/v1/messages", "application/json", strings.NewReader(`{}`))

	resp, err := http.Get(s.URL() + "/__stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /__stats: %s, %v", resp.Status, err)
	}
	if n, _ := got["peak_connections"].(float64); n < 1 {
		t.Errorf("peak_connections %v, want at least 1", got["peak_connections"])
	}
	delete(got, "peak_connections") // how many the client opened is its business
	want := map[string]any{
		"requests":         3.0, // /__stats itself is not counted
		"accepted":         1.0,
		"throttled":        map[string]any{"requests": 1.0},
		"failed":           0.0,
		"resets":           0.0,
		"invalid":          1.0,
		"canceled":         0.0,
		"in_flight":        0.0,
		"peak_concurrency": 1.0,
		"peak_arriving":    1.0,
		"input_tokens":     2.0,
		"output_tokens":    10.0,
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("/__stats = %s; want %s", gotJSON, wantJSON)
	}
	if st := s.Stats(); st.Requests != 3 {
		t.Errorf("Stats().Requests = %d after GET /__stats; want 3", st.Requests)
	}
	resp, err = http.Post(s.URL()+"/__stats", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /__stats: %s; want 405", resp.Status)
	}
}

// TestLoopbackUnderLoad sends many requests at once over real connections
// and checks that the mock never admits more than its concurrency limit
// and accounts for every request.
func TestLoopbackUnderLoad(t *testing.T) {
	const conc = 4
	s, err := Start(Config{Style: Anthropic, Concurrency: conc, Latency: FixedLatency(2 * time.Millisecond), Fail: 0.1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	done := make(chan map[int]int)
	for range 32 {
		go func() {
			codes := map[int]int{}
			for range 10 {
				resp, err := client.Post(s.URL()+"/v1/messages", "application/json", strings.NewReader(message(20, 40)))
				if err != nil {
					codes[0]++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[resp.StatusCode]++
			}
			done <- codes
		}()
	}
	total := map[int]int{}
	for range 32 {
		for code, n := range <-done {
			total[code] += n
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.PeakConcurrency > conc || st.PeakConcurrency == 0 {
		t.Errorf("peak concurrency %d; want 1 to %d", st.PeakConcurrency, conc)
	}
	if total[0] != 0 || int64(total[200]) != st.Accepted || int64(total[429]) != st.Throttled[reasonConcurrency] || st.Requests != 320 {
		t.Errorf("clients saw %v; mock stats %+v", total, st)
	}
	checkInvariant(t, s)
}

func TestPeakArrivingCountsRefusedRequestsToo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{Style: Generic, Concurrency: 2, Latency: FixedLatency(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
			})
		}
		synctest.Wait()
		st := s.Stats()
		wg.Wait()
		// Two are held by the latency; each refusal arrives beside them.
		if st.PeakArriving < 3 || s.Stats().PeakConcurrency != 2 {
			t.Fatalf("peak arriving %d, peak concurrency %d; want at least 3 and 2", st.PeakArriving, s.Stats().PeakConcurrency)
		}
	})
}
