package batch_test

// End-to-end tests of `sluice run` in process: batch.Run against the mock
// API (and a few hand-written handlers) on 127.0.0.1, with every file in
// t.TempDir. The helpers are prefixed e2e so that they cannot collide with
// the package's other tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/mock"
)

// e2eMock starts a mock API on a loopback port and closes it when the test
// ends.
func e2eMock(t *testing.T, cfg mock.Config) *mock.Server {
	t.Helper()
	srv, err := mock.Start(cfg)
	if err != nil {
		t.Fatalf("mock.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// e2eWrite writes content to name in dir and returns its path.
// postLines writes in.jsonl in dir: n lines of format, whose three verbs
// each take the line's index (the id, the URL's last segment, the body).
func postLines(t *testing.T, dir string, n int, format string) string {
	t.Helper()
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, format+"\n", i, i, i)
	}
	return e2eWrite(t, dir, "in.jsonl", in.String())
}

func e2eWrite(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// e2eOutcome is what one batch.Run did.
type e2eOutcome struct {
	sum            batch.Summary
	err            error
	code           int
	stdout, stderr string
}

// e2eEnv is a Getenv that knows only kv ("K", "V", ...).
func e2eEnv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// e2eRun runs cfg with its output captured, without progress, and with an
// empty environment unless cfg says otherwise.
func e2eRun(t *testing.T, cfg batch.Config) e2eOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e2eRunCtx(t, ctx, cfg)
}

func e2eRunCtx(t *testing.T, ctx context.Context, cfg batch.Config) e2eOutcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg.Stdout, cfg.Stderr = &stdout, &stderr
	if cfg.Progress == "" {
		cfg.Progress = "none"
	}
	if cfg.Getenv == nil {
		cfg.Getenv = e2eEnv()
	}
	sum, err := batch.Run(ctx, cfg)
	return e2eOutcome{sum: sum, err: err, code: batch.ExitCode(sum, err), stdout: stdout.String(), stderr: stderr.String()}
}

// e2eLines reads a JSONL file written by the runner: every line a complete
// JSON object, the last one ended by a newline (no torn line).
func e2eLines(t *testing.T, path string) []map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s: last line is torn (no newline): %q", path, tail(b))
	}
	var lines []map[string]json.RawMessage
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(b) == 0 {
			break
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil || m == nil {
			t.Fatalf("%s line %d is not a JSON object (%v): %q", path, i+1, err, line)
		}
		lines = append(lines, m)
	}
	return lines
}

func tail(b []byte) []byte {
	if len(b) > 80 {
		return b[len(b)-80:]
	}
	return b
}

// e2eID decodes an id member: a string as is, a number in decimal.
func e2eID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("id %s is neither a string nor a number", raw)
	}
	return n.String()
}

// e2eIDs returns the ids (member key) of lines, in file order, failing the
// test if one appears twice.
func e2eIDs(t *testing.T, lines []map[string]json.RawMessage, key string) []string {
	t.Helper()
	seen := map[string]bool{}
	var ids []string
	for i, l := range lines {
		raw, ok := l[key]
		if !ok {
			t.Fatalf("line %d has no %q: %v", i+1, key, l)
		}
		id := e2eID(t, raw)
		if seen[id] {
			t.Fatalf("id %q is in the file twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}

// e2eSameSet fails unless got and want hold the same ids.
func e2eSameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		t.Errorf("%s: got ids %v, want %v", what, g, w)
	}
}

func e2eKeys(m map[string]json.RawMessage) []string {
	return slices.Sorted(maps.Keys(m))
}

func e2eObject(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Fatalf("%s is not a JSON object: %v", raw, err)
	}
	return m
}

func e2eString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", raw, err)
	}
	return s
}

func e2eInt(t *testing.T, raw json.RawMessage) int64 {
	t.Helper()
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		t.Fatalf("%s is not an integer: %v", raw, err)
	}
	return n
}

// e2eRecorder is a RoundTripper that records every request it sends, for
// checking the headers and bodies the runner made.
type e2eRecorder struct {
	base *http.Transport
	mu   sync.Mutex
	seen []e2eSeen
}

type e2eSeen struct {
	method, path, query string
	header              http.Header
	body                string
}

func newE2ERecorder(t *testing.T) *e2eRecorder {
	r := &e2eRecorder{base: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(r.base.CloseIdleConnections)
	return r
}

func (r *e2eRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.seen = append(r.seen, e2eSeen{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), string(body)})
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

// byPath returns the recorded requests by path.
func (r *e2eRecorder) byPath() map[string]e2eSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]e2eSeen{}
	for _, s := range r.seen {
		m[s.path] = s
	}
	return m
}

func (r *e2eRecorder) all() []e2eSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// e2eCheckSummary compares the counts of a summary.
func e2eCheckSummary(t *testing.T, got batch.Summary, items, resumed, succeeded, failed, bad int) {
	t.Helper()
	if got.Items != items || got.Resumed != resumed || got.Succeeded != succeeded || got.Failed != failed || got.BadLines != bad {
		t.Errorf("summary: items %d, resumed %d, succeeded %d, failed %d, bad lines %d; want %d, %d, %d, %d, %d",
			got.Items, got.Resumed, got.Succeeded, got.Failed, got.BadLines, items, resumed, succeeded, failed, bad)
	}
}

// e2eHTTPShape checks that a results line of an http, urls or csv run has
// exactly the http shape and a 200, and returns its decoded body.
func e2eHTTPShape(t *testing.T, l map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	if got, want := e2eKeys(l), []string{"attempts", "body", "elapsed_ms", "id", "sluice", "status"}; !slices.Equal(got, want) {
		t.Fatalf("results line has members %v, want %v", got, want)
	}
	if s := e2eInt(t, l["status"]); s != 200 {
		t.Errorf("id %s: status %d, want 200", l["id"], s)
	}
	if a := e2eInt(t, l["attempts"]); a < 1 {
		t.Errorf("id %s: attempts %d, want at least 1", l["id"], a)
	}
	if ms := e2eInt(t, l["elapsed_ms"]); ms < 0 || ms > 30_000 {
		t.Errorf("id %s: elapsed_ms %d out of range", l["id"], ms)
	}
	return e2eObject(t, l["body"])
}

func TestRunHTTPInput(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 1})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "calls.jsonl", strings.Join([]string{
		`# requests for the e2e test`,
		`{"id": "get-1", "url": "` + srv.URL() + `/a/1"}`,
		`{"id": "post-2", "url": "/b/2", "body": {"q": 2}}`,
		``,
		`{"id": 7, "method": "put", "url": "/c/7", "headers": {"X-Item": "seven"}, "body": "raw text"}`,
		`{"url": "/d/none"}`,
		`{"id": "del", "method": "DELETE", "url": "/e?x=1"}`,
	}, "\n")) // no final newline: the last line need not end
	rec := newE2ERecorder(t)
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL(), Headers: []string{"X-Run: run-${RUN_TAG}"}, Getenv: e2eEnv("RUN_TAG", "e2e"), Base: rec})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 5, 0, 5, 0, 0)
	if o.sum.Attempts != 5 || o.sum.Stopped != nil || o.sum.NotStarted != 0 {
		t.Errorf("summary: attempts %d, stopped %v, not started %d; want 5, nil, 0", o.sum.Attempts, o.sum.Stopped, o.sum.NotStarted)
	}
	wantResults, wantErrors := filepath.Join(dir, "calls.results.jsonl"), filepath.Join(dir, "calls.errors.jsonl")
	if o.sum.Results != wantResults || o.sum.Errors != wantErrors {
		t.Errorf("files: %s, %s; want %s, %s", o.sum.Results, o.sum.Errors, wantResults, wantErrors)
	}
	if st := srv.Stats(); st.Requests != 5 || st.Accepted != 5 {
		t.Errorf("mock saw %d requests, accepted %d; want 5, 5", st.Requests, st.Accepted)
	}

	want := map[string]struct{ method, path, raw string }{
		"get-1":  {"GET", "/a/1", `"get-1"`},
		"post-2": {"POST", "/b/2", `"post-2"`},
		"7":      {"PUT", "/c/7", `7`},
		"6":      {"GET", "/d/none", `6`}, // no id: the line number, as a number
		"del":    {"DELETE", "/e", `"del"`},
	}
	lines := e2eLines(t, wantResults)
	ids := e2eIDs(t, lines, "id")
	e2eSameSet(t, "results", ids, slices.Collect(maps.Keys(want)))
	for _, l := range lines {
		id := e2eID(t, l["id"])
		body := e2eHTTPShape(t, l)
		if string(l["id"]) != want[id].raw {
			t.Errorf("id written as %s, want %s", l["id"], want[id].raw)
		}
		if m, p := e2eString(t, body["method"]), e2eString(t, body["path"]); m != want[id].method || p != want[id].path {
			t.Errorf("id %s: the API saw %s %s, want %s %s", id, m, p, want[id].method, want[id].path)
		}
		if a := e2eInt(t, l["attempts"]); a != 1 {
			t.Errorf("id %s: attempts %d, want 1", id, a)
		}
	}
	if _, err := os.Stat(wantErrors); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nothing failed, yet there is an errors file (%v); want none", err)
	}

	seen := rec.byPath()
	for path, s := range seen {
		if got := s.header.Get("X-Run"); got != "run-e2e" {
			t.Errorf("%s: X-Run %q, want run-e2e (-H with ${ENV} expanded)", path, got)
		}
	}
	if s := seen["/c/7"]; s.header.Get("X-Item") != "seven" || s.body != "raw text" {
		t.Errorf("/c/7: X-Item %q, body %q; want seven, raw text", s.header.Get("X-Item"), s.body)
	}
	if s := seen["/b/2"]; s.body != `{"q":2}` || s.header.Get("Content-Type") != "application/json" {
		t.Errorf("/b/2: body %q, Content-Type %q; want {\"q\":2}, application/json", s.body, s.header.Get("Content-Type"))
	}
	if s := seen["/e"]; s.query != "x=1" || s.body != "" {
		t.Errorf("/e: query %q, body %q; want x=1 and none", s.query, s.body)
	}
}

func TestRunURLsInput(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 2})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "urls.txt", srv.URL()+"/u/1\n\n# a comment\n/u/4\n  "+srv.URL()+"/u/5?page=2  \r\n")
	out := filepath.Join(dir, "out.jsonl")
	o := e2eRun(t, batch.Config{Input: in, Out: out, BaseURL: srv.URL()})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 3, 0, 3, 0, 0)
	if o.sum.Results != out || o.sum.Errors != filepath.Join(dir, "out.errors.jsonl") {
		t.Errorf("files: %s, %s; want %s and out.errors.jsonl beside it", o.sum.Results, o.sum.Errors, out)
	}
	lines := e2eLines(t, out)
	e2eSameSet(t, "results", e2eIDs(t, lines, "id"), []string{srv.URL() + "/u/1", "/u/4", srv.URL() + "/u/5?page=2"})
	for _, l := range lines {
		body := e2eHTTPShape(t, l)
		id := e2eID(t, l["id"])
		if m, p := e2eString(t, body["method"]), e2eString(t, body["path"]); m != "GET" || !strings.Contains(id, p) {
			t.Errorf("id %s: %s %s, want GET of its URL", id, m, p)
		}
	}
	if st := srv.Stats(); st.Requests != 3 {
		t.Errorf("mock saw %d requests, want 3", st.Requests)
	}
}

// e2eChat is an OpenAI Batch API input line for a chat completion.
func e2eChat(id string, maxTokens int) string {
	return fmt.Sprintf(`{"custom_id": %q, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to %s"}], "max_tokens": %d}}`, id, id, maxTokens)
}

// e2eMessage is an Anthropic Message Batches request line.
func e2eMessage(id string, maxTokens int) string {
	return fmt.Sprintf(`{"custom_id": %q, "params": {"model": "claude-sonnet-4-5", "max_tokens": %d, "messages": [{"role": "user", "content": "Say hello to %s"}]}}`, id, maxTokens, id)
}

func e2eNames(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%03d", prefix, i+1)
	}
	return ids
}

func TestRunOpenAIInput(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 3})
	dir := t.TempDir()
	ids := e2eNames("req-", 12)
	var in strings.Builder
	for _, id := range ids {
		in.WriteString(e2eChat(id, 40) + "\n")
	}
	path := e2eWrite(t, dir, "batch.jsonl", in.String())
	rec := newE2ERecorder(t)
	o := e2eRun(t, batch.Config{Input: path, API: "openai", BaseURL: srv.URL(), Getenv: e2eEnv("OPENAI_API_KEY", "sk-e2e"), Base: rec, Limits: limitsC(4)})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 12, 0, 12, 0, 0)
	st := srv.Stats()
	if st.Accepted != 12 || st.Requests != 12 {
		t.Errorf("mock: %d requests, %d accepted; want 12, 12", st.Requests, st.Accepted)
	}
	if o.sum.InputTokens != st.InputTokens || o.sum.OutputTokens != st.OutputTokens || st.OutputTokens == 0 {
		t.Errorf("summary tokens %d in, %d out; the API reported %d, %d", o.sum.InputTokens, o.sum.OutputTokens, st.InputTokens, st.OutputTokens)
	}

	lines := e2eLines(t, o.sum.Results)
	e2eSameSet(t, "results", e2eIDs(t, lines, "custom_id"), ids)
	reqIDs := map[string]bool{}
	for _, l := range lines {
		if got, want := e2eKeys(l), []string{"custom_id", "error", "id", "response", "sluice"}; !slices.Equal(got, want) {
			t.Fatalf("openai output line has members %v, want %v", got, want)
		}
		if string(l["error"]) != "null" {
			t.Errorf("error = %s, want null", l["error"])
		}
		id := e2eString(t, l["id"])
		if !strings.HasPrefix(id, "batch_req_") || reqIDs[id] {
			t.Errorf("id %q: want a unique batch_req_ id", id)
		}
		reqIDs[id] = true
		resp := e2eObject(t, l["response"])
		if got, want := e2eKeys(resp), []string{"body", "request_id", "status_code"}; !slices.Equal(got, want) {
			t.Fatalf("response has members %v, want %v", got, want)
		}
		if code := e2eInt(t, resp["status_code"]); code != 200 {
			t.Errorf("status_code %d, want 200", code)
		}
		if rid := e2eString(t, resp["request_id"]); !strings.HasPrefix(rid, "req_") {
			t.Errorf("request_id %q, want the API's x-request-id (req_...)", rid)
		}
		body := e2eObject(t, resp["body"])
		if e2eString(t, body["object"]) != "chat.completion" || e2eString(t, body["model"]) != "gpt-4o-mini" {
			t.Errorf("body is not the chat completion: %s", resp["body"])
		}
	}
	for _, s := range rec.all() {
		if s.method != "POST" || s.path != "/v1/chat/completions" || s.header.Get("Authorization") != "Bearer sk-e2e" {
			t.Errorf("request %s %s with Authorization %q; want POST /v1/chat/completions, Bearer sk-e2e", s.method, s.path, s.header.Get("Authorization"))
		}
	}
}

// An openai file needs no --api: a base URL is enough, and no key is sent.
func TestRunOpenAIInputWithoutPreset(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 4})
	dir := t.TempDir()
	path := e2eWrite(t, dir, "batch.jsonl", e2eChat("a", 10)+"\n"+e2eChat("b", 10)+"\n")
	rec := newE2ERecorder(t)
	o := e2eRun(t, batch.Config{Input: path, BaseURL: srv.URL(), Base: rec})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 2, 0, 2, 0, 0)
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "custom_id"), []string{"a", "b"})
	for _, s := range rec.all() {
		if a := s.header.Get("Authorization"); a != "" {
			t.Errorf("Authorization %q sent without --api", a)
		}
	}
}

func TestRunAnthropicInput(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 5})
	dir := t.TempDir()
	ids := e2eNames("msg-", 10)
	var in strings.Builder
	for _, id := range ids {
		in.WriteString(e2eMessage(id, 30) + "\n")
	}
	path := e2eWrite(t, dir, "messages.jsonl", in.String())
	rec := newE2ERecorder(t)
	o := e2eRun(t, batch.Config{Input: path, API: "anthropic", BaseURL: srv.URL(), Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-ant-e2e"), Base: rec, Limits: limitsC(4)})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 10, 0, 10, 0, 0)
	st := srv.Stats()
	if st.Accepted != 10 || st.Requests != 10 {
		t.Errorf("mock: %d requests, %d accepted; want 10, 10", st.Requests, st.Accepted)
	}
	if o.sum.InputTokens != st.InputTokens || o.sum.OutputTokens != st.OutputTokens || st.OutputTokens == 0 {
		t.Errorf("summary tokens %d in, %d out; the API reported %d, %d", o.sum.InputTokens, o.sum.OutputTokens, st.InputTokens, st.OutputTokens)
	}
	lines := e2eLines(t, o.sum.Results)
	e2eSameSet(t, "results", e2eIDs(t, lines, "custom_id"), ids)
	for _, l := range lines {
		if got, want := e2eKeys(l), []string{"custom_id", "result", "sluice"}; !slices.Equal(got, want) {
			t.Fatalf("anthropic result line has members %v, want %v", got, want)
		}
		res := e2eObject(t, l["result"])
		if got, want := e2eKeys(res), []string{"message", "type"}; !slices.Equal(got, want) {
			t.Fatalf("result has members %v, want %v", got, want)
		}
		if typ := e2eString(t, res["type"]); typ != "succeeded" {
			t.Errorf("result type %q, want succeeded", typ)
		}
		msg := e2eObject(t, res["message"])
		if e2eString(t, msg["type"]) != "message" || e2eString(t, msg["role"]) != "assistant" || !strings.HasPrefix(e2eString(t, msg["id"]), "msg_") {
			t.Errorf("message is not the API's message: %s", res["message"])
		}
	}
	for _, s := range rec.all() {
		if s.method != "POST" || s.path != "/v1/messages" || s.header.Get("x-api-key") != "sk-ant-e2e" || s.header.Get("anthropic-version") != "2023-06-01" {
			t.Errorf("request %s %s, x-api-key %q, anthropic-version %q", s.method, s.path, s.header.Get("x-api-key"), s.header.Get("anthropic-version"))
		}
		var params map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s.body), &params); err != nil || params["custom_id"] != nil || params["model"] == nil {
			t.Errorf("body %q: want the params object alone", s.body)
		}
	}
}

func TestRunCSVInput(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 6})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "rows.csv", "id,name,qty\nc1,\"Smith, Jo\",3\nc2,Ann,5\nc3,\"two\nlines\",1\n")
	rec := newE2ERecorder(t)
	o := e2eRun(t, batch.Config{
		Input: in, BaseURL: srv.URL(), Base: rec,
		Template: `{"name": {{json .name}}, "qty": {{.qty}}}`,
		URL:      `/items/{{.id}}?qty={{urlquery .qty}}`,
	})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 3, 0, 3, 0, 0)
	lines := e2eLines(t, o.sum.Results)
	e2eSameSet(t, "results", e2eIDs(t, lines, "id"), []string{"c1", "c2", "c3"})
	for _, l := range lines {
		body := e2eHTTPShape(t, l)
		id := e2eID(t, l["id"])
		if m, p := e2eString(t, body["method"]), e2eString(t, body["path"]); m != "POST" || p != "/items/"+id {
			t.Errorf("%s: %s %s, want POST /items/%s", id, m, p, id)
		}
	}
	want := map[string]string{
		"/items/c1": `{"name": "Smith, Jo", "qty": 3}`,
		"/items/c2": `{"name": "Ann", "qty": 5}`,
		"/items/c3": `{"name": "two\nlines", "qty": 1}`,
	}
	seen := rec.byPath()
	for path, body := range want {
		if seen[path].body != body {
			t.Errorf("%s: body %q, want %q", path, seen[path].body, body)
		}
	}
	if q := seen["/items/c2"].query; q != "qty=5" {
		t.Errorf("/items/c2: query %q, want qty=5", q)
	}
}

// Without an id column a csv item is named by the line its record starts on.
func TestRunCSVInputWithoutIDColumn(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 7})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "rows.csv", "url,who\n"+srv.URL()+"/x,\"a\nb\"\n"+srv.URL()+"/y,c\n")
	o := e2eRun(t, batch.Config{Input: in, Format: input.FormatCSV})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v\nstderr: %s", o.code, o.err, o.stderr)
	}
	lines := e2eLines(t, o.sum.Results)
	e2eSameSet(t, "results", e2eIDs(t, lines, "id"), []string{"2", "4"})
	for _, l := range lines {
		// The column the request does not use is carried as metadata.
		wantMeta := map[string]string{"2": `{"who":"a\nb"}`, "4": `{"who":"c"}`}[e2eID(t, l["id"])]
		if got := string(l["metadata"]); got != wantMeta {
			t.Errorf("id %s: metadata %s, want %s", l["id"], got, wantMeta)
		}
		delete(l, "metadata")
		body := e2eHTTPShape(t, l)
		want := map[string]string{"2": "/x", "4": "/y"}[e2eID(t, l["id"])]
		if m, p := e2eString(t, body["method"]), e2eString(t, body["path"]); m != "GET" || p != want {
			t.Errorf("id %s: %s %s, want GET %s", l["id"], m, p, want)
		}
	}
}

// limitsC is a concurrency ceiling, the rest default.
func limitsC(n int) sluice.Limits { return sluice.Limits{Concurrency: n} }

// e2eRedirector is a server on 127.0.0.1 that redirects every request, and
// its URL.
func e2eRedirector(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRunURLsRepeatedURLFetchedOnce protects a URL list with the same URL
// on several lines from failing the run with bad lines: the URL is its
// id, so it is one item, fetched once, and the repeats are counted.
func TestRunURLsRepeatedURLFetchedOnce(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 2})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "urls.txt", strings.Repeat(srv.URL()+"/u/1\n", 3)+srv.URL()+"/u/2\n")
	o := e2eRun(t, batch.Config{Input: in, Out: filepath.Join(dir, "out.jsonl")})
	if o.err != nil || o.code != 0 {
		t.Fatalf("Run: exit %d, %v; want 0\nstderr: %s", o.code, o.err, o.stderr)
	}
	if o.sum.Succeeded != 2 || o.sum.BadLines != 0 || o.sum.Repeated != 2 {
		t.Errorf("%d succeeded, %d bad lines, %d repeated; want 2, 0, 2", o.sum.Succeeded, o.sum.BadLines, o.sum.Repeated)
	}
	var summary strings.Builder
	batch.WriteSummary(&summary, o.sum)
	if !strings.Contains(summary.String(), "2 lines repeat an earlier URL of the list: each URL fetched once") {
		t.Errorf("the summary does not count the repeats:\n%s", summary.String())
	}
	if st := srv.Stats(); st.Requests != 2 {
		t.Errorf("mock saw %d requests, want 2", st.Requests)
	}
}
