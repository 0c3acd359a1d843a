package proxy_test

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// Every mistake in a configuration file names the file, the line and the
// field, so that it can be fixed without guessing; unknown fields are
// mistakes, since a misspelt limit would leave the API unprotected.
func TestConfigErrorsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"rate without period", `
routes:
  - prefix: /a
    upstream: https://api.anthropic.com
  - prefix: /b
    upstream: https://api.openai.com
    rate: 20
`, `sluice.yaml:7: routes[1].rate: "20": want COUNT/PERIOD such as 50/s`},
		{"bad rate count", `
routes:
  - upstream: http://x
    rate: 0/s
`, `sluice.yaml:4: routes[0].rate: "0/s": count "0" must be positive`},
		{"a route's field at the top", `
redis_mode: closed
routes:
  - upstream: http://x
`, `sluice.yaml:2: redis_mode: a route's field, not the file's: give it in each route (under routes:)`},
		{"unknown route field", `
routes:
  - upstream: http://x
    rtae: 5/s
`, `sluice.yaml:4: routes[0].rtae: unknown field; known: prefix, strip_prefix, upstream, preset, concurrency, adaptive, rate, burst, window, tokens, input_tokens, output_tokens, max_retry_wait, models, per_key, redis, redis_mode, redis_key, redis_processes, queue, max_wait, max_body, retries, timeout`},
		{"unknown top field", `
listen: 127.0.0.1:9000
route:
  - upstream: http://x
`, `sluice.yaml:3: route: unknown field; known: listen, allow_remote, body_budget, routes`},
		{"unknown model field", `
routes:
  - upstream: https://api.anthropic.com
    models:
      claude-haiku-4:
        queue: 5
`, `sluice.yaml:6: routes[0].models.claude-haiku-4.queue: unknown field; known: concurrency, rate, burst, window, tokens, input_tokens, output_tokens`},
		{"no upstream", `
routes:
  - prefix: /a
    rate: 5/s
`, `sluice.yaml:3: routes[0].upstream: missing: want the API to send requests to, such as https://api.anthropic.com`},
		{"upstream not http", `
routes:
  - upstream: ftp://files.example.com
`, `sluice.yaml:3: routes[0].upstream: "ftp://files.example.com": want an http or https URL, such as https://api.anthropic.com`},
		{"upstream without scheme", `
routes:
  - upstream: api.anthropic.com
`, `sluice.yaml:3: routes[0].upstream: "api.anthropic.com": want an http or https URL, such as https://api.anthropic.com`},
		{"duplicate prefix", `
routes:
  - prefix: /a
    upstream: http://x
  - prefix: /b
    upstream: http://y
  - prefix: /a/
    upstream: http://z
`, `sluice.yaml:7: routes[2].prefix: "/a/": routes[0] has the same prefix`},
		{"two routes for every path", `
routes:
  - upstream: http://x
  - upstream: http://y
`, `sluice.yaml:4: routes[1].prefix: "": routes[0] has the same prefix`},
		{"prefix not a path", `
routes:
  - prefix: anthropic
    upstream: http://x
`, `sluice.yaml:3: routes[0].prefix: "anthropic": want a path starting with /`},
		{"listen without port", `
listen: localhost
routes:
  - upstream: http://x
`, `sluice.yaml:2: listen: "localhost": want HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8787`},
		{"listen on a port that cannot be", `
listen: 127.0.0.1:99999
routes:
  - upstream: http://x
`, `sluice.yaml:2: listen: "127.0.0.1:99999": want HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8787`},
		{"bad preset", `
routes:
  - upstream: http://x
    preset: gemini
`, `sluice.yaml:4: routes[0].preset: "gemini": want anthropic, openai or generic`},
		{"tokens on generic", `
routes:
  - upstream: http://x
    rate: 5/s
    input_tokens: 100/m
`, `sluice.yaml:5: routes[0].input_tokens: token limits need preset anthropic or openai: the generic preset cannot estimate a request's tokens`},
		{"models on generic", `
routes:
  - upstream: http://x
    models:
      a: {rate: 5/s}
`, `sluice.yaml:5: routes[0].models: limits per model need preset anthropic or openai, not generic`},
		{"bad model rate", `
routes:
  - upstream: https://api.openai.com
    models:
      gpt-4o:
        rate: 5/fortnight
`, `sluice.yaml:6: routes[0].models.gpt-4o.rate: "5/fortnight": unknown period unit "fortnight" (want ms, s, m, h, d or a duration like 10s)`},
		{"zero queue", `
routes:
  - upstream: http://x
    queue: 0
`, `sluice.yaml:4: routes[0].queue: 0: want at least 1`},
		{"concurrency not a number", `
routes:
  - upstream: http://x
    concurrency: many
`, `sluice.yaml:4: routes[0].concurrency: "many": want a whole number`},
		{"retries as a string", `
routes:
  - upstream: http://x
    retries: "3"
`, `sluice.yaml:4: routes[0].retries: "3": want a whole number, not a string: drop the quotes`},
		{"queue as a string, in JSON", `{"routes": [{"upstream": "http://x", "queue": '50'}]}`,
			`sluice.yaml:1: routes[0].queue: "50": want a whole number, not a string: drop the quotes`},
		{"a model's concurrency as a string", `
routes:
  - upstream: https://api.openai.com
    models:
      gpt-4o:
        concurrency: "4"
`, `sluice.yaml:6: routes[0].models.gpt-4o.concurrency: "4": want a whole number, not a string: drop the quotes`},
		{"burst as a string", `
routes:
  - upstream: http://x
    burst: "2"
`, `sluice.yaml:4: routes[0].burst: "2": want a whole number, not a string: drop the quotes`},
		{"body budget zero", `
body_budget: 0
routes:
  - upstream: http://x
`, `sluice.yaml:2: body_budget: want at least 1 byte`},
		{"negative retries", `
routes:
  - upstream: http://x
    retries: -1
`, `sluice.yaml:4: routes[0].retries: -1: want at least 0`},
		{"max wait without unit", `
routes:
  - upstream: http://x
    max_wait: 30
`, `sluice.yaml:4: routes[0].max_wait: "30": want a positive duration such as 30s`},
		{"max body without a number", `
routes:
  - upstream: http://x
    max_body: lots
`, `sluice.yaml:4: routes[0].max_body: size "lots": want a number of bytes, or one with a unit such as 512KiB or 32MiB`},
		{"max body zero", `
routes:
  - upstream: http://x
    max_body: 0
`, `sluice.yaml:4: routes[0].max_body: want at least 1 byte`},
		{"max body unknown unit", `
routes:
  - upstream: http://x
    max_body: 3TB
`, `sluice.yaml:4: routes[0].max_body: size "3TB": want a number of bytes, or one with a unit such as 512KiB or 32MiB`},
		{"per_key not a bool", `
routes:
  - upstream: http://x
    per_key: yes please
`, `sluice.yaml:4: routes[0].per_key: "yes please": want true or false`},
		{"routes not a list", `
routes:
  upstream: http://x
`, `sluice.yaml:3: routes: want a list (items starting with -), not a mapping`},
		{"route not a mapping", `
routes:
  - http://x
`, `sluice.yaml:3: routes[0]: want a mapping of fields, not "http://x"`},
		{"no routes", `
listen: 127.0.0.1:8787
`, `sluice.yaml:2: routes: missing: want at least one route`},
		{"empty routes", `
routes: []
`, `sluice.yaml:2: routes: empty: want at least one route`},
		{"empty file", ``, `sluice.yaml: empty: want at least routes`},
		{"unknown alias", `
routes:
  - <<: *defaults
    upstream: http://x
`, `sluice.yaml:3: routes[0]: alias *defaults: no anchor &defaults`},
		{"merged into itself", `
routes:
  - &r
    <<: *r
    upstream: http://x
`, `sluice.yaml:4: routes[0]: merge keys nested too deep (an anchor merged into itself?)`},
		{"a field given twice", `
routes:
  - upstream: http://x
    rate: 5/s
    rate: 6/s
`, `sluice.yaml:5: routes[0].rate: given twice (first on line 4)`},
		{"syntax", `
routes:
  - upstream: [http://x
`, `sluice.yaml:3: sequence end token ']' not found`},
		{"redis not a redis URL", `
routes:
  - upstream: http://x
    redis: http://127.0.0.1:6379
`, `sluice.yaml:4: routes[0].redis: "http://127.0.0.1:6379": want a redis:// or rediss:// URL, such as redis://127.0.0.1:6379/0`},
		{"redis_key without redis", `
routes:
  - upstream: http://x
    redis_key: team-a
`, `sluice.yaml:4: routes[0].redis_key: needs redis: the URL of the Redis that shares the route's limits`},
		{"redis_processes not a count", `
routes:
  - upstream: http://x
    redis: redis://127.0.0.1:6379
    redis_processes: 0
`, `sluice.yaml:5: routes[0].redis_processes: 0: want at least 1`},
		{"redis_key empty", `
routes:
  - upstream: http://x
    redis: redis://127.0.0.1:6379
    redis_key: " "
`, `sluice.yaml:5: routes[0].redis_key: empty: want a name such as anthropic, or no redis_key for the upstream's host and prefix`},
		{"two documents", `
routes: [{upstream: "http://x"}]
---
routes: [{upstream: "http://y"}]
`, `sluice.yaml:4: a second YAML document: want one`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := proxy.ParseConfig("sluice.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("got %+v, want error %q", cfg, tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			var ce *proxy.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T, want a *proxy.ConfigError", err)
			}
		})
	}
}

// What a file says is what the routes get: defaults where it says
// nothing, a model's limits on top of its route's, merge keys sharing
// limits.
func TestConfigGoodFiles(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       proxy.Config
	}{
		{"defaults", `
routes:
  - upstream: https://api.anthropic.com
`, proxy.Config{Listen: proxy.DefaultListen, Routes: []proxy.Route{{
			StripPrefix: true, Upstream: mustURLNoT("https://api.anthropic.com"), Preset: proxy.Anthropic,
			QueueSize: proxy.DefaultQueueSize, MaxWait: proxy.DefaultMaxWait,
		}}}},
		{"JSON: numbers bare, durations, rates and sizes as strings", `{"body_budget": "64MiB", "routes": [
  {"upstream": "http://x", "queue": 5, "retries": 2, "rate": "10/s", "max_wait": "5s", "timeout": "0", "max_body": "1MiB"}]}`,
			proxy.Config{Listen: proxy.DefaultListen, BodyBudget: 64 << 20, Routes: []proxy.Route{{
				StripPrefix: true, Upstream: mustURLNoT("http://x"), Preset: proxy.Generic,
				Limits: sluice.Limits{Rate: sluice.PerSecond(10)}, QueueSize: 5, MaxWait: 5 * time.Second, MaxBody: 1 << 20,
				Retry: sluice.RetryPolicy{MaxAttempts: 3},
			}}}},
		{"everything", `
listen: "[::1]:9000"
allow_remote: false
body_budget: 1GiB
routes:
  - prefix: /openai
    strip_prefix: false
    upstream: https://api.openai.com/v1
    preset: openai
    concurrency: 4
    adaptive: false
    rate: 500/m
    burst: 2
    window: 100/10s
    tokens: 30000/m
    max_retry_wait: 1m
    models:
      gpt-4o-mini:
        tokens: 200000/m
        concurrency: 16
    per_key: true
    queue: 50
    max_wait: 5s
    max_body: 1MiB
    retries: 0
    timeout: 2m
`, proxy.Config{Listen: "[::1]:9000", BodyBudget: 1 << 30, Routes: []proxy.Route{{
			Prefix: "/openai", Upstream: mustURLNoT("https://api.openai.com/v1"), Preset: proxy.OpenAI,
			Limits: sluice.Limits{Concurrency: 4, FixedConcurrency: true, Rate: sluice.PerMinute(500), Burst: 2,
				Window: sluice.Rate{N: 100, Per: 10 * time.Second}, Tokens: sluice.PerMinute(30000), MaxPause: time.Minute},
			Models: map[string]sluice.Limits{"gpt-4o-mini": {Concurrency: 16, FixedConcurrency: true, Rate: sluice.PerMinute(500), Burst: 2,
				Window: sluice.Rate{N: 100, Per: 10 * time.Second}, Tokens: sluice.PerMinute(200000), MaxPause: time.Minute}},
			PerKey: true, QueueSize: 50, MaxWait: 5 * time.Second, MaxBody: 1 << 20,
			Retry: sluice.RetryPolicy{MaxAttempts: 1}, AttemptTimeout: 2 * time.Minute,
		}}}},
		{"remote allowed, limits shared by a merge key", `
listen: 0.0.0.0:8787
allow_remote: true
x-shared: &shared
  rate: 10/s
  max_wait: 1s
routes:
  - <<: *shared
    prefix: /a
    upstream: http://a.test
  - <<: *shared
    prefix: /b
    upstream: http://b.test
    rate: 20/s
`, proxy.Config{Listen: "0.0.0.0:8787", AllowRemote: true, Routes: []proxy.Route{
			{Prefix: "/a", StripPrefix: true, Upstream: mustURLNoT("http://a.test"), Preset: proxy.Generic,
				Limits: sluice.Limits{Rate: sluice.PerSecond(10)}, QueueSize: proxy.DefaultQueueSize, MaxWait: time.Second},
			{Prefix: "/b", StripPrefix: true, Upstream: mustURLNoT("http://b.test"), Preset: proxy.Generic,
				Limits: sluice.Limits{Rate: sluice.PerSecond(20)}, QueueSize: proxy.DefaultQueueSize, MaxWait: time.Second},
		}}},
		{"shared through Redis under a name of its own, by three processes", `
routes:
  - upstream: http://a.test
    redis: redis://127.0.0.1:6379/0
    redis_mode: closed
    redis_key: team-a
    redis_processes: 3
`, proxy.Config{Listen: proxy.DefaultListen, Routes: []proxy.Route{
			{StripPrefix: true, Upstream: mustURLNoT("http://a.test"), Preset: proxy.Generic,
				Redis: "redis://127.0.0.1:6379/0", RedisMode: "closed", RedisKey: "team-a", RedisProcesses: 3,
				QueueSize: proxy.DefaultQueueSize, MaxWait: proxy.DefaultMaxWait},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := proxy.ParseConfig("sluice.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

// The sample file and the reference `sluice proxy --help` shows are
// configurations that open.
func TestConfigSamplesOpen(t *testing.T) {
	sample, err := os.ReadFile("testdata/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"testdata/sluice.yaml": sample, "ConfigHelp": []byte(proxy.ConfigHelp)} {
		cfg, err := proxy.ParseConfig(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := &proxy.Server{Addr: "127.0.0.1:0", Routes: cfg.Routes}
		if err := s.Open(); err != nil {
			t.Fatalf("%s: Open: %v", name, err)
		}
		s.Close()
	}
}

// ParseConfig never panics, and what it accepts opens.
func FuzzParseConfig(f *testing.F) {
	sample, err := os.ReadFile("testdata/sluice.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte(proxy.ConfigHelp))
	f.Add([]byte("routes:\n  - upstream: http://x\n    rate: 20\n"))
	f.Add([]byte("x: &a {rate: 5/s}\nroutes:\n  - <<: [*a, *a]\n    upstream: http://x\n    models: {m: *a}\n"))
	f.Add([]byte("routes: [{upstream: 'https://api.openai.com', models: {gpt-4o: {tokens: 1/s}}}]"))
	f.Add([]byte("routes:\n  - &r\n    <<: *r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := proxy.ParseConfig("f.yaml", data)
		if err != nil {
			var ce *proxy.ConfigError
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %T %q: want a *proxy.ConfigError naming the file", err, err)
			}
			return
		}
		if len(cfg.Routes) == 0 {
			t.Fatal("accepted with no route")
		}
		s := &proxy.Server{Addr: "127.0.0.1:0", AllowRemote: true, Routes: cfg.Routes}
		if err := s.Open(); err != nil {
			t.Fatalf("accepted %q, but Open: %v", data, err)
		}
		s.Close()
	})
}

// Two routes from one file, each to its own API and paced by its own
// limits, which the mocks judge: any request sent faster than an API
// allows would come back 429 (retries are off). The anthropic route's own
// rate and concurrency are far beyond its API's (the headers it learns
// from say nothing of concurrency); only the model's limits keep it in,
// per API key too.
func TestConfigRoutesEachPacedByTheirOwnLimits(t *testing.T) {
	anthropic := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 1,
		Requests: mock.Limit{N: 5, Per: 50 * time.Millisecond}, Concurrency: 2, Latency: mock.FixedLatency(20 * time.Millisecond)})
	openai := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 2,
		Requests: mock.Limit{N: 3, Per: 100 * time.Millisecond}})
	cfg, err := proxy.ParseConfig("sluice.yaml", []byte(`
routes:
  - prefix: /anthropic
    upstream: `+anthropic.URL()+`
    preset: anthropic
    rate: 1000/s
    concurrency: 16
    models:
      claude-haiku-4:
        rate: 90/s
        concurrency: 2
    per_key: true
    retries: 0
  - prefix: /openai
    upstream: `+openai.URL()+`
    preset: openai
    rate: 25/s
    retries: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy.Server{Addr: "127.0.0.1:0", Routes: cfg.Routes}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	const perRoute = 30
	json := map[string]string{"Content-Type": "application/json"}
	var wg sync.WaitGroup
	results := make([]result, 2*perRoute)
	for i := range perRoute {
		wg.Go(func() {
			results[i] = send(t.Context(), "POST", p.URL()+"/anthropic/v1/messages", "",
				map[string]string{"Content-Type": "application/json", "X-Api-Key": "sk-test"}, haikuBody)
		})
		wg.Go(func() {
			results[perRoute+i] = send(t.Context(), "POST", p.URL()+"/openai/v1/chat/completions", "", json,
				`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}`)
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("request %d: %d %v %s; want 200", i, r.status, r.err, r.body)
		}
	}
	for name, api := range map[string]*mock.Server{"anthropic": anthropic, "openai": openai} {
		st := api.Stats()
		if st.Accepted != perRoute || st.ThrottledTotal() != 0 || st.Invalid != 0 {
			t.Errorf("%s API: accepted %d, throttled %v, invalid %d; want %d, none, none",
				name, st.Accepted, st.Throttled, st.Invalid, perRoute)
		}
	}
}

// mustURLNoT parses a URL known to be good.
func mustURLNoT(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// A listen beyond loopback without allow_remote is a mistake naming its
// line, but one the file keeps, not refuses: the command's --listen or
// --allow-remote may override it.
func TestConfigRemoteListenIsKeptForTheCommand(t *testing.T) {
	cfg, err := proxy.ParseConfig("sluice.yaml", []byte("\nlisten: 0.0.0.0:8787\nroutes:\n  - upstream: http://x\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `sluice.yaml:2: listen: "0.0.0.0:8787" is not a loopback address: anyone who can reach it could use the API keys clients send; set allow_remote: true to mean it`
	if err := cfg.RemoteListen(); err == nil || err.Error() != want {
		t.Errorf("RemoteListen() = %v, want %s", err, want)
	}
	cfg, err = proxy.ParseConfig("sluice.yaml", []byte("listen: 0.0.0.0:8787\nallow_remote: true\nroutes:\n  - upstream: http://x\n"))
	if err != nil || cfg.RemoteListen() != nil {
		t.Errorf("with allow_remote: %v, RemoteListen() = %v; want neither", err, cfg.RemoteListen())
	}
}
