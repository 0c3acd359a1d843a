package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/proxy"
)

// secretKey is a key no page, metric or log line may ever show.
const secretKey = "sk-ant-DISTINCTIVE-7f3e9c1d-never-shown"

// get fetches url and returns its status, headers and body.
func get(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// scrape reads /metrics into series name{labels} -> value, the labels as
// Prometheus writes them (sorted by name).
func scrape(t *testing.T, base string) (map[string]float64, string) {
	t.Helper()
	status, _, body := get(t, base+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", status, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, body
}

// sendKeyed posts n requests for model at once to the proxy, with the secret
// key, and returns how many got each status.
func sendKeyed(t *testing.T, url, model string, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"model":"`+model+`","max_tokens":5}`))
			req.Header.Set("X-Api-Key", secretKey)
			req.Header.Set("Authorization", "Bearer "+secretKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("POST %s: %v", url, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			got[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

// counting is an upstream that answers 429 on paths under /throttle and
// 200 with a usage report elsewhere, and counts what it is sent.
func counting(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/v1/throttle") {
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
			return
		}
		io.WriteString(w, `{"type":"message","usage":{"input_tokens":7,"output_tokens":11}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// Each outcome is counted once, under its route and outcome only: the
// counts by outcome add up to the requests sent, and the upstream's
// 429s, tokens and admissions are counted too.
func TestMetricsCountEachRequestByRouteAndOutcome(t *testing.T) {
	up, _ := counting(t)
	p := startProxy(t, proxy.Route{
		Prefix: "/v1", Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic,
		// A burst of 10 against 1 per second and a max wait of 50 ms:
		// the first is admitted, the rest are refused at once.
		Limits:  sluice.Limits{Rate: sluice.PerSecond(1)},
		MaxWait: 50 * time.Millisecond,
		Retry:   sluice.RetryPolicy{MaxAttempts: 1},
	})
	sent := sendKeyed(t, p.URL()+"/v1/messages", "m", 10)
	m, _ := scrape(t, p.URL())
	series := func(outcome string) string {
		return fmt.Sprintf(`sluice_proxy_requests_total{outcome=%q,route="/v1"}`, outcome)
	}
	for _, c := range []struct {
		series string
		want   float64
	}{
		{series("2xx"), float64(sent[200])},
		{series("refused_max_wait"), float64(sent[429])},
		{`sluice_proxy_admitted_total{route="/v1"}`, float64(sent[200])},
		{`sluice_proxy_tokens_total{direction="input",route="/v1"}`, 7 * float64(sent[200])},
		{`sluice_proxy_tokens_total{direction="output",route="/v1"}`, 11 * float64(sent[200])},
		{`sluice_proxy_admission_wait_seconds_count{route="/v1"}`, float64(sent[200])},
		{`sluice_proxy_upstream_latency_seconds_count{route="/v1"}`, float64(sent[200])},
		{`sluice_proxy_queue_depth{route="/v1"}`, 0},
		{`sluice_proxy_queue_capacity{route="/v1"}`, proxy.DefaultQueueSize},
	} {
		if got, ok := m[c.series]; !ok || got != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.series, got, ok, c.want)
		}
	}
	if sent[200] != 1 || sent[429] != 9 {
		t.Errorf("statuses %v, want one 200 and nine 429s", sent)
	}
}

// An upstream 429 passed on is counted as throttled, per attempt and as
// the request's outcome, and the retries as retries.
func TestMetricsCountUpstreamThrottlingAndRetries(t *testing.T) {
	up, hits := counting(t)
	p := startProxy(t, proxy.Route{
		Prefix: "/v1", Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic,
		Retry: sluice.RetryPolicy{MaxAttempts: 2, Backoff: sluice.Backoff{Base: time.Millisecond, Cap: time.Millisecond},
			Budget: &sluice.RetryBudget{Ratio: 10, Floor: 100}},
	})
	sendKeyed(t, p.URL()+"/v1/throttle", "m", 1)
	m, _ := scrape(t, p.URL())
	for _, c := range []struct {
		series string
		want   float64
	}{
		{`sluice_proxy_requests_total{outcome="upstream_throttled",route="/v1"}`, 1},
		{`sluice_proxy_upstream_throttled_total{route="/v1"}`, float64(hits.Load())},
		{`sluice_proxy_retries_total{route="/v1"}`, float64(hits.Load() - 1)},
	} {
		if got := m[c.series]; got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("upstream saw %d attempts, want 2 (one retry)", hits.Load())
	}
}

// Several servers in one process each have their own registry: opening a
// second does not panic on a duplicate registration, and each counts its
// own requests.
func TestMetricsRegistryPerServer(t *testing.T) {
	up, _ := counting(t)
	a := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic})
	b := startProxy(t, proxy.Route{Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic})
	sendKeyed(t, a.URL()+"/v1/messages", "m", 3)
	sendKeyed(t, b.URL()+"/v1/messages", "m", 1)
	for _, c := range []struct {
		s    *proxy.Server
		want float64
	}{{a, 3}, {b, 1}} {
		m, _ := scrape(t, c.s.URL())
		if got := m[`sluice_proxy_admitted_total{route="/"}`]; got != c.want {
			t.Errorf("%s: admitted %v, want %v", c.s.URL(), got, c.want)
		}
	}
}

// Where GET / goes: to the status page unless a route serves "/"; a
// browser's GET / to it too when that route is an LLM API's (which has
// no page at /); a generic route serving "/" keeps its own.
func TestRootGoesToTheStatusPageOnlyWhenNoRouteNeedsIt(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	const html = "text/html,application/xhtml+xml"
	for _, c := range []struct {
		name       string
		prefix     string
		preset     proxy.Preset
		accept     string
		wantStatus int
		wantBody   string
	}{
		{"no route serves /", "/v1", proxy.Anthropic, "", http.StatusFound, ""},
		{"LLM route serves /, browser", "", proxy.Anthropic, html, http.StatusFound, ""},
		{"LLM route serves /, API client", "", proxy.Anthropic, "application/json", http.StatusOK, "upstream /"},
		{"generic route serves /, browser", "", proxy.Generic, html, http.StatusOK, "upstream /"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startProxy(t, proxy.Route{Prefix: c.prefix, Upstream: mustURL(t, up.URL), Preset: c.preset})
			status, h, body := get(t, p.URL()+"/", "Accept", c.accept)
			if status != c.wantStatus || (c.wantBody != "" && body != c.wantBody) {
				t.Fatalf("GET / = %d %q, want %d %q", status, body, c.wantStatus, c.wantBody)
			}
			if status == http.StatusFound && h.Get("Location") != "/__sluice/" {
				t.Errorf("Location %q, want /__sluice/", h.Get("Location"))
			}
			status, h, _ = get(t, p.URL()+"/__sluice/")
			if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Errorf("GET /__sluice/ = %d %s, want 200 text/html", status, h.Get("Content-Type"))
			}
		})
	}
}

// The status page in a real headless Chromium: after traffic, the totals
// it renders (from stats.json, by its own script) are /metrics' counts;
// the page asks the upstream for nothing (not even a favicon: that would
// spend the route's quota); and the key the clients sent is nowhere in
// the page, stats.json, /metrics or the debug log.
func TestStatusPageInChromiumMatchesMetricsAndShowsNoKey(t *testing.T) {
	chromium := findChromium(t)
	up, hits := counting(t)
	var logs bytes.Buffer
	var logMu sync.Mutex
	p := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{
		// Every path, as `sluice proxy --upstream` serves.
		Upstream: mustURL(t, up.URL), Preset: proxy.Anthropic, PerKey: true,
		Limits: sluice.Limits{Rate: sluice.PerSecond(1)}, MaxWait: 50 * time.Millisecond,
		Retry: sluice.RetryPolicy{MaxAttempts: 1},
	}}, Logger: slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	sendKeyed(t, p.URL()+"/v1/messages", "m", 8) // one admitted, the rest refused
	sendKeyed(t, p.URL()+"/v1/throttle", "t", 1) // another model's gate: admitted, throttled upstream
	sentUpstream := hits.Load()

	dom := dumpDOM(t, chromium, p.URL()+"/__sluice/")
	if hits.Load() != sentUpstream {
		t.Errorf("loading the page sent %d requests upstream, want none", hits.Load()-sentUpstream)
	}
	if !regexp.MustCompile(`<body data-updated="[1-9]`).MatchString(dom) {
		t.Fatalf("the page's script never rendered stats.json:\n%s", dom)
	}
	page := pageValues(dom)
	m, metricsText := scrape(t, p.URL())
	for _, c := range []struct{ metric, series string }{
		{"admitted", `sluice_proxy_admitted_total{route="/"}`},
		{"throttled", `sluice_proxy_upstream_throttled_total{route="/"}`},
		{"retries", `sluice_proxy_retries_total{route="/"}`},
		{"tokens_in", `sluice_proxy_tokens_total{direction="input",route="/"}`},
		{"tokens_out", `sluice_proxy_tokens_total{direction="output",route="/"}`},
		{"queue", `sluice_proxy_queue_depth{route="/"}`},
	} {
		got, ok := page[c.metric]
		if want := m[c.series]; !ok || got != want {
			t.Errorf("page %s = %v (present %v), /metrics %s = %v", c.metric, got, ok, c.series, want)
		}
	}
	refused := m[`sluice_proxy_requests_total{outcome="refused_max_wait",route="/"}`] +
		m[`sluice_proxy_requests_total{outcome="refused_queue_full",route="/"}`]
	if page["refused"] != refused {
		t.Errorf("page refused = %v, /metrics refused_max_wait+refused_queue_full = %v", page["refused"], refused)
	}
	// The numbers compared are not all zero: the traffic was counted.
	for _, k := range []string{"admitted", "refused", "throttled", "tokens_in"} {
		if page[k] == 0 {
			t.Errorf("page %s = 0, want the traffic's count", k)
		}
	}

	_, _, stats := get(t, p.URL()+"/__sluice/stats.json")
	var parsed struct{ Routes []json.RawMessage }
	if err := json.Unmarshal([]byte(stats), &parsed); err != nil || len(parsed.Routes) != 1 {
		t.Errorf("stats.json: %v, %d routes:\n%s", err, len(parsed.Routes), stats)
	}
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	for name, text := range map[string]string{"page": dom, "stats.json": stats, "/metrics": metricsText, "log": logged} {
		if strings.Contains(text, "DISTINCTIVE") {
			t.Errorf("the %s shows the API key", name)
		}
	}
	if !strings.Contains(logged, "path=/v1/messages") {
		t.Errorf("the debug log has no request line: the key check above looked at nothing:\n%s", logged)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// pageValues reads the page's data-metric elements: name -> data-value.
func pageValues(dom string) map[string]float64 {
	out := map[string]float64{}
	re := regexp.MustCompile(`data-metric="([a-z_]+)" data-value="([0-9.e+-]+)"`)
	for _, m := range re.FindAllStringSubmatch(dom, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			out[m[1]] = v
		}
	}
	return out
}

// findChromium returns the path of Debian's chromium, installing it when
// it is missing and apt-get can. Without it the test is skipped, except
// under CI, where it fails: .ci/run installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	var err error
	if _, e := exec.LookPath("apt-get"); e == nil && os.Geteuid() == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", "apt-get update && apt-get install -y chromium")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var out []byte
		if out, err = cmd.CombinedOutput(); err == nil {
			if p, e := exec.LookPath("chromium"); e == nil {
				return p
			}
		}
		err = fmt.Errorf("%v: %s", err, lastLines(out, 5))
	} else {
		err = fmt.Errorf("no apt-get, or not root")
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium is missing and could not be installed (%v): .ci/run installs it", err)
	}
	t.Skipf("chromium is missing and could not be installed: %v", err)
	return ""
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// dumpDOM loads url in headless Chromium, lets the page's script run for
// 3 seconds of virtual time (its fetches done), and returns the DOM.
func dumpDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=3000", "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, lastLines(stderr.Bytes(), 10))
	}
	return string(out)
}

// The ceiling is reported per model the route gives limits of its own,
// and summed over the other gates under model="other": a sum over models
// of different limits would mean nothing. The model label takes no value
// a client chooses.
func TestMetricsCeilingPerConfiguredModel(t *testing.T) {
	up, _ := counting(t)
	p := startProxy(t, proxy.Route{
		Upstream: mustURL(t, up.URL),
		Preset:   proxy.Anthropic,
		Limits:   sluice.Limits{Concurrency: 10, FixedConcurrency: true},
		Models:   map[string]sluice.Limits{"claude-opus-4": {Concurrency: 3, FixedConcurrency: true}},
	})
	sendKeyed(t, p.URL()+"/v1/messages", "claude-opus-4-1", 1)
	sendKeyed(t, p.URL()+"/v1/messages", "claude-haiku-4-5", 1)
	sendKeyed(t, p.URL()+"/v1/messages", "made-up-by-a-client", 1)
	m, body := scrape(t, p.URL())
	for series, want := range map[string]float64{
		`sluice_proxy_concurrency_ceiling{model="claude-opus-4",route="/"}`:     3,
		`sluice_proxy_concurrency_ceiling{model="other",route="/"}`:             20, // haiku's gate and the made-up model's
		`sluice_proxy_learned_rate_per_second{model="claude-opus-4",route="/"}`: 0,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if strings.Contains(body, "made-up") || strings.Contains(body, "haiku") {
		t.Errorf("a model no configuration names is a label value:\n%s", body)
	}
}
