package batch_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
)

// e2eModelClock serves requests with the mock in-process and records when
// each model's requests arrive, in the bubble's fake time.
type e2eModelClock struct {
	base  http.RoundTripper
	begin time.Time
	mu    sync.Mutex
	at    map[string][]time.Duration
}

func (c *e2eModelClock) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	var params struct{ Model string }
	json.Unmarshal(body, &params)
	c.mu.Lock()
	c.at[params.Model] = append(c.at[params.Model], time.Since(c.begin))
	c.mu.Unlock()
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	return c.base.RoundTrip(req)
}

// TestRunPacesEachModelByItsOwnLimits protects per-model gates end to end:
// a batch mixing models, one given its own rate (by a name covering two of
// its versions), finishes each model at the pace of its own limit, where
// one gate for the API paced them all at the slowest.
func TestRunPacesEachModelByItsOwnLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := mock.New(mock.Config{Style: mock.Anthropic, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		clock := &e2eModelClock{base: apitest.RoundTripper{Handler: srv}, begin: time.Now(), at: map[string][]time.Duration{}}
		// 41 haiku (two versions, one gate at 20/s) and 11 sonnet (5/s)
		// interleaved: each takes 2s at its own limit; 52 at 5/s take 10s.
		var in strings.Builder
		haiku, sonnet := 0, 0
		for i := range 52 {
			model := "claude-sonnet-4-5"
			if i%5 != 0 && haiku < 41 || sonnet == 11 {
				model = []string{"claude-haiku-4-5", "claude-haiku-4-5-20251001"}[haiku%2]
				haiku++
			} else {
				sonnet++
			}
			fmt.Fprintf(&in, `{"custom_id": "m%02d", "params": {"model": %q, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}}`+"\n", i, model)
		}
		path := e2eWrite(t, t.TempDir(), "mixed.jsonl", in.String())
		o := e2eRun(t, batch.Config{
			Input: path, API: "anthropic", BaseURL: "http://api.test", Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-ant-e2e"), Base: clock,
			Limits:      sluice.Limits{Rate: sluice.PerSecond(5)},
			ModelLimits: map[string]sluice.Limits{"claude-haiku-4": {Rate: sluice.PerSecond(20)}},
		})
		if o.err != nil || o.code != 0 {
			t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
		}
		e2eCheckSummary(t, o.sum, 52, 0, 52, 0, 0)
		// The start line names the model's own limits too (it named only
		// the run's, though the run went at the model's pace).
		if want := "; claude-haiku-4: concurrency 8 (adaptive), rate 20/s"; !strings.Contains(o.stderr, want) {
			t.Errorf("the start line does not name the model's limits %q:\n%s", want, o.stderr)
		}
		clock.mu.Lock()
		defer clock.mu.Unlock()
		haikuAt := append(clock.at["claude-haiku-4-5"], clock.at["claude-haiku-4-5-20251001"]...)
		for _, m := range []struct {
			name string
			at   []time.Duration
			rate float64
		}{{"claude-haiku-4 (both versions)", haikuAt, 20}, {"claude-sonnet-4-5", clock.at["claude-sonnet-4-5"], 5}} {
			last := time.Duration(0)
			for _, d := range m.at {
				last = max(last, d)
			}
			// n calls at r/s: the first at once, the last after (n-1)/r,
			// plus the limiter's margin (6ms a period).
			want := time.Duration(float64(len(m.at)-1) / m.rate * float64(time.Second))
			t.Logf("%s: %d calls, the last after %v (its own limit: %v)", m.name, len(m.at), last, want)
			if last < want || last > want+want/20 {
				t.Errorf("%s: %d calls, the last after %v; want %v at its own %v/s", m.name, len(m.at), last, want, m.rate)
			}
		}
	})
}

// Limits for one model need a preset: without one, requests are not
// sorted by model, and the limits would be silently ignored.
func TestRunRefusesModelLimitsWithoutAPI(t *testing.T) {
	path := e2eWrite(t, t.TempDir(), "urls.txt", "http://127.0.0.1:1/a\n")
	o := e2eRun(t, batch.Config{Input: path, ModelLimits: map[string]sluice.Limits{"gpt-4o": {Rate: sluice.PerSecond(1)}}})
	if o.code != 2 || o.err == nil || !strings.Contains(o.err.Error(), "need --api") {
		t.Errorf("Run: exit %d, %v; want 2, a usage error saying MODEL=VALUE needs --api", o.code, o.err)
	}
	if made, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.jsonl")); len(made) != 0 {
		t.Errorf("a refused run made %v", made)
	}
}
