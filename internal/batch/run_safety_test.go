package batch_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/mock"
)

// loopbackOnly sends requests to 127.0.0.1 only: a test of where calls go
// must never reach a real API, even on code that sends them there.
type loopbackOnly struct{ sent atomic.Int64 }

func (l *loopbackOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != "127.0.0.1" {
		return nil, fmt.Errorf("test refused a call to %s: not loopback", req.URL.Host)
	}
	l.sent.Add(1)
	return http.DefaultTransport.RoundTrip(req)
}

// e2eMessages writes n Anthropic batch lines and returns the path.
func e2eMessages(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for _, id := range e2eNames("m", n) {
		b.WriteString(e2eMessage(id, 8) + "\n")
	}
	return e2eWrite(t, dir, "messages.jsonl", b.String())
}

// TestRunBaseURLFromTheSDKVariables protects runs aimed at the mock from
// going to the real API: with --api, ANTHROPIC_BASE_URL and
// OPENAI_BASE_URL are honoured as the SDKs honour them, --base-url beats
// them, and a trailing /v1 (or /) does not make /v1/v1.
func TestRunBaseURLFromTheSDKVariables(t *testing.T) {
	ant := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 61})
	oai := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 62})
	dead := "http://127.0.0.1:1" // nothing listens there
	var chat strings.Builder
	for _, id := range e2eNames("c", 6) {
		chat.WriteString(e2eChat(id, 8) + "\n")
	}
	for _, tc := range []struct {
		name    string
		api     string
		flag    string // --base-url
		env     []string
		srv     *mock.Server
		openai  bool
		wantVia string // in the start line: where the base URL came from
	}{
		{"anthropic env", "anthropic", "", []string{"ANTHROPIC_BASE_URL", ant.URL()}, ant, false, "from ANTHROPIC_BASE_URL"},
		{"anthropic env with /v1", "anthropic", "", []string{"ANTHROPIC_BASE_URL", ant.URL() + "/v1"}, ant, false, "from ANTHROPIC_BASE_URL"},
		{"anthropic env with /v1/", "anthropic", "", []string{"ANTHROPIC_BASE_URL", ant.URL() + "/v1/"}, ant, false, "from ANTHROPIC_BASE_URL"},
		{"flag beats env", "anthropic", ant.URL(), []string{"ANTHROPIC_BASE_URL", dead}, ant, false, "from --base-url"},
		{"flag with /v1", "anthropic", ant.URL() + "/v1", nil, ant, false, "from --base-url"},
		{"openai env with /v1", "openai", "", []string{"OPENAI_BASE_URL", oai.URL() + "/v1"}, oai, true, "from OPENAI_BASE_URL"},
		{"openai env without /v1", "openai", "", []string{"OPENAI_BASE_URL", oai.URL()}, oai, true, "from OPENAI_BASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := e2eMessages(t, dir, 6)
			keyEnv := "ANTHROPIC_API_KEY"
			if tc.openai {
				in = e2eWrite(t, dir, "chat.jsonl", chat.String())
				keyEnv = "OPENAI_API_KEY"
			}
			before := tc.srv.Stats().Accepted
			rec := &loopbackOnly{}
			o := e2eRun(t, batch.Config{Input: in, API: tc.api, BaseURL: tc.flag, Base: rec, Limits: limitsC(2),
				Getenv: e2eEnv(append([]string{keyEnv, "sk-test"}, tc.env...)...)})
			if o.code != 0 || o.sum.Succeeded != 6 {
				t.Fatalf("exit %d, %v, %d succeeded; want 0 with 6\n%s", o.code, o.err, o.sum.Succeeded, o.stderr)
			}
			if got := tc.srv.Stats().Accepted - before; got != 6 {
				t.Errorf("the mock accepted %d calls, want 6", got)
			}
			if !strings.Contains(o.stderr, tc.wantVia) {
				t.Errorf("start line does not say %q:\n%s", tc.wantVia, o.stderr)
			}
		})
	}
}

// TestRunStartLineNamesTheKeyNeverItsValue protects the key: the start
// line (and every other line on stderr, even of a failed run) names the
// variable the key came from and never its value.
func TestRunStartLineNamesTheKeyNeverItsValue(t *testing.T) {
	const secret = "sk-ant-SECRET-value-0123456789"
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key %s"}}`, r.Header.Get("x-api-key"))
	}))
	defer deny.Close()
	dir := t.TempDir()
	in := e2eMessages(t, dir, 3)
	o := e2eRun(t, batch.Config{Input: in, API: "anthropic", Limits: sluice.Limits{Concurrency: 3, Rate: sluice.Rate{N: 50, Per: 60e9}, Tokens: sluice.Rate{N: 40000, Per: 60e9}},
		Getenv: e2eEnv("ANTHROPIC_API_KEY", secret, "ANTHROPIC_BASE_URL", deny.URL)})
	if o.code != 1 {
		t.Errorf("exit %d, %v; want 1 (3 failed)", o.code, o.err)
	}
	first, _, _ := strings.Cut(o.stderr, "\n")
	for _, want := range []string{"sluice: " + in, "(anthropic lines)", deny.URL + " (from ANTHROPIC_BASE_URL)", "auth: ANTHROPIC_API_KEY", "concurrency 3", "rate 50/m", "tokens 40000/m for each model"} {
		if !strings.Contains(first, want) {
			t.Errorf("start line does not say %q: %s", want, first)
		}
	}
	if strings.Contains(o.stderr+o.stdout, secret) {
		t.Errorf("the key's value is on stderr or stdout:\n%s", o.stderr)
	}

	// The dry run names the same, and says when the key is unset.
	d := e2eRun(t, batch.Config{Input: in, API: "openai", Format: input.FormatAnthropic, DryRun: true})
	if d.code != 2 {
		t.Errorf("dry run with --api openai on anthropic lines: exit %d, want 2", d.code)
	}
	d = e2eRun(t, batch.Config{Input: in, API: "anthropic", DryRun: true})
	for _, want := range []string{"(anthropic lines) to https://api.anthropic.com (from the --api anthropic default)", "auth: ANTHROPIC_API_KEY (unset)"} {
		if !strings.Contains(d.stdout, want) {
			t.Errorf("dry run does not say %q:\n%s", want, d.stdout)
		}
	}
}

// TestRunDoomedBy401StopsEarly protects a batch from being burnt by a
// wrong key: when every one of the first calls gets 401, the run stops
// admitting, exits 3 naming the variable to check, and leaves the rest
// not started (not failed) for the next run; --keep-going sends them all.
func TestRunDoomedBy401StopsEarly(t *testing.T) {
	var seen atomic.Int64
	deny := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
	}))
	defer deny.Close()
	dir := t.TempDir()
	in := e2eMessages(t, dir, 100)
	cfg := batch.Config{Input: in, API: "anthropic", BaseURL: deny.URL, Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-wrong")}
	o := e2eRun(t, cfg)
	s := o.sum
	if o.code != 3 || s.Stopped == nil {
		t.Fatalf("exit %d, %v, stopped %v; want 3\n%s", o.code, o.err, s.Stopped, o.stderr)
	}
	for _, want := range []string{"401 Unauthorized", "check ANTHROPIC_API_KEY", "--keep-going"} {
		if !strings.Contains(s.Stopped.Error(), want) {
			t.Errorf("stop reason %q does not say %q", s.Stopped, want)
		}
	}
	if n := seen.Load(); n > 30 {
		t.Errorf("the server saw %d calls; a doomed run should stop after the first few", n)
	}
	if s.Items != 100 || s.Succeeded+s.Failed+s.NotStarted != 100 || s.NotStarted < 70 {
		t.Errorf("%d items: %d succeeded, %d failed, %d not started; want all 100 accounted for, most not started", s.Items, s.Succeeded, s.Failed, s.NotStarted)
	}
	if n := len(e2eLines(t, s.Errors)); n != s.Failed {
		t.Errorf("errors file has %d lines, summary says %d failed", n, s.Failed)
	}

	seen.Store(0)
	cfg.KeepGoing = true
	cfg.Out = e2eWrite(t, dir, "keep.jsonl", "")
	k := e2eRun(t, cfg)
	if k.code != 1 || k.sum.Failed != 100 || k.sum.Stopped != nil || seen.Load() != 100 {
		t.Errorf("--keep-going: exit %d, %d failed, stopped %v, %d calls; want 1 with all 100 sent and failed", k.code, k.sum.Failed, k.sum.Stopped, seen.Load())
	}
}

// TestRunDoomedBy404StopsEarly protects a batch from a base URL with a
// wrong path: the same 404 on every call stops it, naming the URL and the
// base URL to check. A base URL with /v1 is not one (the SDKs' style).
func TestRunDoomedBy404StopsEarly(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 63})
	dir := t.TempDir()
	in := e2eMessages(t, dir, 60)

	// /v1/v1/messages was 60 of 60 failed with 404.
	v1 := e2eRun(t, batch.Config{Input: in, API: "anthropic", BaseURL: srv.URL() + "/v1", Limits: limitsC(4), Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-test"), Out: e2eWrite(t, dir, "v1.jsonl", "")})
	if v1.code != 0 || v1.sum.Succeeded != 60 {
		t.Errorf("base URL .../v1: exit %d, %d succeeded, stopped %v; want 0 with 60", v1.code, v1.sum.Succeeded, v1.sum.Stopped)
	}

	before := srv.Stats().Requests
	o := e2eRun(t, batch.Config{Input: in, API: "anthropic", BaseURL: srv.URL() + "/v2", Limits: limitsC(4), Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-test"), Out: e2eWrite(t, dir, "v2.jsonl", "")})
	s := o.sum
	if o.code != 3 || s.Stopped == nil {
		t.Fatalf("base URL .../v2: exit %d, %v, stopped %v; want 3\n%s", o.code, o.err, s.Stopped, o.stderr)
	}
	for _, want := range []string{"404 Not Found", srv.URL() + "/v2/v1/messages", "check the base URL " + srv.URL() + "/v2 (from --base-url)"} {
		if !strings.Contains(s.Stopped.Error(), want) {
			t.Errorf("stop reason %q does not say %q", s.Stopped, want)
		}
	}
	if sent := srv.Stats().Requests - before; sent > 20 || s.NotStarted < 40 {
		t.Errorf("%d calls sent, %d not started; want a few sent, most not started", sent, s.NotStarted)
	}
}

// TestRunDoomNeedsTheSameFailure protects runs with a few bad requests
// among good ones: a success or a different failure among the first calls
// means the run is not doomed.
func TestRunDoomNeedsTheSameFailure(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			fmt.Fprint(w, `{}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":"bad item %s"}}`, r.URL.Path)
	}))
	defer srv.Close()
	dir := t.TempDir()
	ids := e2eNames("d", 40)
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL, Limits: limitsC(1)})
	if o.code != 1 || o.sum.Stopped != nil || o.sum.Succeeded+o.sum.Failed != 40 {
		t.Errorf("exit %d, stopped %v, %d+%d done; want 1, all 40 sent", o.code, o.sum.Stopped, o.sum.Succeeded, o.sum.Failed)
	}
}

// TestRunOptionsThatDoNotFitAreUsageErrors protects against runs that
// would be billed for calls that cannot do what was asked: each is exit
// 2 with nothing sent.
func TestRunOptionsThatDoNotFitAreUsageErrors(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 64})
	dir := t.TempDir()
	anthropic := e2eMessages(t, dir, 3)
	openai := e2eWrite(t, dir, "chat.jsonl", e2eChat("c1", 8)+"\n")
	urls := e2eWrite(t, dir, "urls.txt", srv.URL()+"/a\n"+srv.URL()+"/b\n")
	gets := e2eHTTPFile(t, dir, []string{"g1", "g2"})
	var late strings.Builder // an LLM request, then a GET on line 7
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&late, `{"id":"p%d","method":"POST","url":"/v1/messages","body":{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}}`+"\n", i)
	}
	late.WriteString(`{"id":"g","url":"/item/g"}` + "\n")
	mixed := e2eWrite(t, dir, "late.jsonl", late.String())
	tokens := sluice.Limits{Tokens: sluice.Rate{N: 40000, Per: 60e9}}
	key := e2eEnv("ANTHROPIC_API_KEY", "k", "OPENAI_API_KEY", "k")
	for _, tc := range []struct {
		name string
		cfg  batch.Config
		want string
	}{
		{"openai on anthropic lines", batch.Config{Input: anthropic, API: "openai", BaseURL: srv.URL()}, "use --api anthropic"},
		{"anthropic on openai lines", batch.Config{Input: openai, API: "anthropic", BaseURL: srv.URL()}, "use --api openai"},
		{"openai on http lines to /v1/messages", batch.Config{Input: mixed, API: "openai", BaseURL: srv.URL()}, "line 1"},
		{"tokens on urls", batch.Config{Input: urls, Limits: tokens}, "--tokens"},
		{"output tokens on urls", batch.Config{Input: urls, Limits: sluice.Limits{OutputTokens: sluice.Rate{N: 1, Per: 1e9}}}, "--output-tokens"},
		{"tokens on GETs", batch.Config{Input: gets, BaseURL: srv.URL(), Limits: tokens}, "line 1"},
		{"tokens on a late GET, dry run", batch.Config{Input: mixed, BaseURL: srv.URL(), Limits: tokens, DryRun: true}, "line 7"},
		{"unknown progress", batch.Config{Input: gets, BaseURL: srv.URL(), Progress: "fancy"}, `--progress "fancy"`},
		{"restart onto stdout", batch.Config{Input: gets, BaseURL: srv.URL(), Out: "-", Restart: true}, "--restart with -o -"},
		{"restart and skip-changed", batch.Config{Input: gets, BaseURL: srv.URL(), Restart: true, SkipChanged: true}, "--restart with --skip-changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Getenv = key
			o := e2eRun(t, tc.cfg)
			if o.code != 2 || !errors.Is(o.err, batch.ErrUsage) {
				t.Fatalf("exit %d, %v; want 2, a usage error", o.code, o.err)
			}
			if !strings.Contains(o.err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", o.err, tc.want)
			}
		})
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("usage errors sent %d requests", st.Requests)
	}

	// Token limits on LLM requests are fine, in http lines too.
	var b strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, `{"id":"p%d","method":"POST","url":"/v1/messages","body":{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}}`+"\n", i)
	}
	ok := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, "llm.jsonl", b.String()), BaseURL: srv.URL(), Limits: tokens})
	if ok.code != 0 {
		t.Errorf("tokens on LLM http lines: exit %d, %v", ok.code, ok.err)
	}
}

// TestRunRefusesStreamedBatchLines protects the results from raw SSE
// text: a batch line asking to stream is a bad line, reported with its
// number, and not sent.
func TestRunRefusesStreamedBatchLines(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 65})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "in.jsonl", e2eMessage("a", 8)+"\n"+`{"custom_id":"s","params":{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}}`+"\n")
	o := e2eRun(t, batch.Config{Input: in, API: "anthropic", BaseURL: srv.URL(), Getenv: e2eEnv("ANTHROPIC_API_KEY", "k")})
	if o.code != 1 || o.sum.Succeeded != 1 || o.sum.BadLines != 1 {
		t.Errorf("exit %d, %d succeeded, %d bad; want 1 with 1 succeeded, 1 bad", o.code, o.sum.Succeeded, o.sum.BadLines)
	}
	if want := in + `: line 2: params: "stream": true is not supported`; !strings.Contains(o.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, o.stderr)
	}
	if st := srv.Stats(); st.Requests != 1 {
		t.Errorf("the mock saw %d calls, want 1", st.Requests)
	}
}

// TestRunResumeIsNotDoomedByTheItemsThatFailedBefore protects a resume
// from stopping before it reaches the items never sent: its first calls
// are the items that failed last time, and they fail alike again (the
// same 400 at the same path), which on a first run would mean a wrong
// setup. Every re-run stopped there, for good (found in review).
func TestRunResumeIsNotDoomedByTheItemsThatFailedBefore(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"bad"`) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"max_tokens: field required"}}`)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	line := func(id, kind string) string {
		return fmt.Sprintf(`{"id": %q, "url": "/v1/messages", "body": {"kind": %q}}`+"\n", id, kind)
	}
	var first strings.Builder
	for i := range 6 {
		first.WriteString(line(fmt.Sprintf("b%d", i), "bad"))
	}
	for i := range 3 {
		first.WriteString(line(fmt.Sprintf("g%d", i), "good"))
	}
	dir := t.TempDir()
	in := e2eWrite(t, dir, "in.jsonl", first.String())
	out := filepath.Join(dir, "out.jsonl")
	cfg := batch.Config{Input: in, Out: out, BaseURL: srv.URL, Limits: limitsC(1), KeepGoing: true}
	if o := e2eRun(t, cfg); o.sum.Succeeded != 3 || o.sum.Failed != 6 {
		t.Fatalf("first run: %d succeeded, %d failed; want 3 and 6\n%s", o.sum.Succeeded, o.sum.Failed, o.stderr)
	}

	more := first.String()
	for i := 3; i < 30; i++ {
		more += line(fmt.Sprintf("g%d", i), "good")
	}
	e2eWrite(t, dir, "in.jsonl", more)
	calls.Store(0)
	cfg.KeepGoing = false
	o := e2eRun(t, cfg)
	if o.sum.Stopped != nil || o.sum.Succeeded != 27 || o.sum.Failed != 6 || o.code != 1 {
		t.Errorf("resume: exit %d, stopped %v, %d succeeded, %d failed; want 1, not stopped, 27 and 6", o.code, o.sum.Stopped, o.sum.Succeeded, o.sum.Failed)
	}
	if n := calls.Load(); n != 33 {
		t.Errorf("resume sent %d calls, want 33 (the 6 that failed, then the 27 never sent)", n)
	}
}
