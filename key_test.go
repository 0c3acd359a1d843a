package sluice

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

func TestTopLevelString(t *testing.T) {
	for _, tt := range []struct {
		body   string
		want   string
		wantOK bool
	}{
		{`{"model":"claude-haiku-4-5","max_tokens":10}`, "claude-haiku-4-5", true},
		{` { "max_tokens" : 10 , "model" : "gpt-4o" } `, "gpt-4o", true},
		// Nested "model" members are not the request's.
		{`{"messages":[{"role":"user","content":"{\"model\":\"x\"}"}],"metadata":{"model":"y"},"model":"z"}`, "z", true},
		{`{"tools":[{"a":[1,{"b":"]}"}]}],"stream":true,"n":-1.5e3,"x":null,"model":"m"}`, "m", true},
		{`{"model":"a\u002fb"}`, "a/b", true},
		{`{"model":"first","model":"second"}`, "first", true},
		{`{"messages":[]}`, "", false},
		{`{"model":7}`, "", false},
		{`{"model":null}`, "", false},
		{`["model","x"]`, "", false},
		{`{"model":"unterminated`, "", false},
		{`{"messages":[{"model":"x"}`, "", false},
		{``, "", false},
		{`not json`, "", false},
	} {
		got, ok := topLevelString([]byte(tt.body), "model")
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("topLevelString(%s) = %q, %v; want %q, %v", tt.body, got, ok, tt.want, tt.wantOK)
		}
	}
}

// FuzzTopLevelString checks the scan against encoding/json on any input
// json accepts as an object whose first "model" member is a string.
func FuzzTopLevelString(f *testing.F) {
	f.Add(`{"model":"m"}`)
	f.Add(`{"a":[{"model":"x"}],"model":"m\"q"}`)
	f.Fuzz(func(t *testing.T, body string) {
		got, ok := topLevelString([]byte(body), "model")
		var v map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &v) != nil || strings.Count(body, `"model"`) != 1 {
			return // only well-formed bodies with one spelling of the member are compared
		}
		var want string
		wantOK := json.Unmarshal(v["model"], &want) == nil && v["model"] != nil && string(v["model"]) != "null"
		if ok != wantOK || (ok && got != want) {
			t.Errorf("topLevelString(%s) = %q, %v; json says %q, %v", body, got, ok, want, wantOK)
		}
	})
}

func TestKeyByModel(t *testing.T) {
	for _, tt := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"a JSON body", func() *http.Request {
			r, _ := http.NewRequest("POST", "https://api.anthropic.com/v1/messages", strings.NewReader(`{"model":"claude-haiku-4-5"}`))
			return r
		}, "api.anthropic.com/claude-haiku-4-5"},
		{"no body", func() *http.Request {
			r, _ := http.NewRequest("GET", "https://api.openai.com/v1/models", nil)
			return r
		}, "api.openai.com"},
		{"no model", func() *http.Request {
			r, _ := http.NewRequest("POST", "https://api.openai.com/v1/x", strings.NewReader(`{"input":"hi"}`))
			return r
		}, "api.openai.com"},
		{"no GetBody", func() *http.Request {
			r, _ := http.NewRequest("POST", "https://api.openai.com/v1/x", io.NopCloser(strings.NewReader(`{"model":"m"}`)))
			return r
		}, "api.openai.com"},
	} {
		req := tt.req()
		if got := KeyByModel(req); got != tt.want {
			t.Errorf("%s: KeyByModel = %q, want %q", tt.name, got, tt.want)
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody != nil {
			if b, _ := io.ReadAll(req.Body); len(b) == 0 {
				t.Errorf("%s: KeyByModel consumed req.Body", tt.name)
			}
		}
	}
}

// TestTransportLendsTheBodyToTheKey protects KeyByModel through the
// Transport for a request without GetBody: the key reads the kept copy,
// and the body still arrives whole.
func TestTransportLendsTheBodyToTheKey(t *testing.T) {
	var got string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(req.Body)
		got = string(b)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	tr := &Transport{Base: base, Key: KeyByModel}
	body := `{"model":"m","prompt":"hi"}`
	req, _ := http.NewRequest("POST", "http://api.test/v1/x", io.NopCloser(strings.NewReader(body)))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != body {
		t.Errorf("sent %q, want %q", got, body)
	}
	if s := tr.Gate("api.test/m").Stats(); s.Admitted != 1 {
		t.Errorf("gate api.test/m admitted %d, want 1", s.Admitted)
	}
	if req.GetBody != nil {
		t.Errorf("RoundTrip set req.GetBody; want req left as it was")
	}
}

// modelRequest is a POST naming model, as the SDKs send it.
func modelRequest(t *testing.T, model string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", "http://api.test/v1/messages", strings.NewReader(`{"model":"`+model+`","max_tokens":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestTransportPacesEachModelByItsOwnLimits protects per-model gates: two
// models sent at once each finish at the pace of their own rate, not of a
// shared one.
func TestTransportPacesEachModelByItsOwnLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
		tr := &Transport{
			Base: apitest.RoundTripper{Handler: h},
			Key:  KeyByModel,
			LimitsFor: func(key string) Limits {
				switch key {
				case "api.test/fast":
					return Limits{Rate: PerSecond(10)}
				case "api.test/slow":
					return Limits{Rate: PerSecond(2)}
				}
				t.Errorf("LimitsFor(%q): unexpected key", key)
				return Limits{}
			},
		}
		begin := time.Now()
		var mu sync.Mutex
		last := map[string]time.Duration{}
		var wg sync.WaitGroup
		for _, m := range []struct {
			model string
			n     int
		}{{"fast", 21}, {"slow", 5}} {
			for range m.n {
				wg.Go(func() {
					resp, err := tr.RoundTrip(modelRequest(t, m.model))
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					mu.Lock()
					last[m.model] = max(last[m.model], time.Since(begin))
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		// 21 at 10/s and 5 at 2/s both take 2s (the first goes at once),
		// plus the limiter's margin.
		for model, d := range last {
			if d < 2*time.Second || d > 2200*time.Millisecond {
				t.Errorf("%s finished after %v; want about 2s, its own limit's pace", model, d)
			}
		}
	})
}

// TestTransportOneModelsPauseLeavesTheOtherAlone protects per-model
// learning: a 429 with Retry-After for one model pauses only its gate.
func TestTransportOneModelsPauseLeavesTheOtherAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		throttled := false
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			if strings.Contains(string(b), `"busy"`) && !throttled {
				throttled = true
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(429)
				return
			}
			w.Header().Set("anthropic-ratelimit-requests-limit", "60")
		})
		tr := &Transport{Base: apitest.RoundTripper{Handler: h}, Key: KeyByModel}
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := tr.RoundTrip(modelRequest(t, "busy")) // throttled, waits 30s, retried
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
		synctest.Wait()
		if tr.Gate("api.test/busy").PausedUntil().IsZero() {
			t.Fatal("the throttled model's gate is not paused")
		}
		begin := time.Now()
		resp, err := tr.RoundTrip(modelRequest(t, "idle"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d := time.Since(begin); d != 0 {
			t.Errorf("the other model waited %v; want no wait", d)
		}
		if p := tr.Gate("api.test/idle").PausedUntil(); !p.IsZero() {
			t.Errorf("the other model's gate is paused until %v", p)
		}
		if r := tr.Gate("api.test/busy").LearnedRate(); !r.IsZero() {
			t.Errorf("the throttled model learned %v from the other model's headers", r)
		}
		<-done
	})
}

func BenchmarkKeyByModel(b *testing.B) {
	body := `{"max_tokens":1024,"messages":[{"role":"user","content":"` + strings.Repeat("Summarise the following paragraph. ", 30) + `"}],"model":"claude-haiku-4-5"}`
	req, _ := http.NewRequest("POST", "https://api.anthropic.com/v1/messages", strings.NewReader(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if KeyByModel(req) != "api.anthropic.com/claude-haiku-4-5" {
			b.Fatal("wrong key")
		}
	}
}
