package batch_test

// End-to-end tests of what a run writes (issue 10, items 8, 9, 10, 13):
// errors lines in the input format's shape, results on standard output,
// ids that keep their type, bodies without HTML escaping, and metadata
// carried from the input into the results and errors.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/mock"
)

// e2eFailureOf returns the class, line and message of an errors line: at
// its top level (urls, http, csv) or in its "sluice" member (openai,
// anthropic).
func e2eFailureOf(t *testing.T, l map[string]json.RawMessage) (class string, line int, message string) {
	t.Helper()
	if s, ok := l["sluice"]; ok {
		l = e2eObject(t, s)
	}
	return e2eString(t, l["class"]), int(e2eInt(t, l["line"])), e2eString(t, l["message"])
}

// e2eAnswer is a server on 127.0.0.1 that answers every request with
// status and body, and its URL.
func e2eAnswer(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_e2e")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// e2eJSONEqual reports whether two JSON texts hold the same value.
func e2eJSONEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return bytes.Equal(xs, ys)
}

// Item 8: an OpenAI batch item the API refused is written as the Batch
// API's error-file line: the answer whole in "response", "error" null,
// sluice's class and attempts in "sluice", and the line's metadata.
func TestRunErrorsInOpenAIBatchShape(t *testing.T) {
	apiErr := `{"error":{"message":"The model <gpt-x> does not exist","type":"invalid_request_error","param":"model","code":"model_not_found"}}`
	base := e2eAnswer(t, 404, apiErr)
	dir := t.TempDir()
	path := e2eWrite(t, dir, "batch.jsonl",
		`{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-x"},"metadata":{"row":7,"tag":"<x>"}}`+"\n")
	o := e2eRun(t, batch.Config{Input: path, BaseURL: base, Retries: -1})
	if o.code != 1 || o.err != nil {
		t.Fatalf("exit %d, %v; want 1\n%s", o.code, o.err, o.stderr)
	}
	raw, err := os.ReadFile(o.sum.Errors)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`\u003c`)) {
		t.Errorf("errors line escapes HTML: %s", raw)
	}
	errs := e2eLines(t, o.sum.Errors)
	if len(errs) != 1 {
		t.Fatalf("errors file has %d lines, want 1", len(errs))
	}
	l := errs[0]
	if got, want := e2eKeys(l), []string{"custom_id", "error", "id", "metadata", "response", "sluice"}; !equalStrings(got, want) {
		t.Fatalf("errors line members %v, want %v", got, want)
	}
	if e2eString(t, l["custom_id"]) != "a" || !strings.HasPrefix(e2eString(t, l["id"]), "batch_req_") || string(l["error"]) != "null" {
		t.Errorf("custom_id %s, id %s, error %s; want a, batch_req_..., null", l["custom_id"], l["id"], l["error"])
	}
	resp := e2eObject(t, l["response"])
	if e2eInt(t, resp["status_code"]) != 404 || e2eString(t, resp["request_id"]) != "req_e2e" {
		t.Errorf("response %s; want status_code 404, request_id req_e2e", l["response"])
	}
	if !e2eJSONEqual(t, resp["body"], []byte(apiErr)) {
		t.Errorf("response body %s; want the API's answer whole: %s", resp["body"], apiErr)
	}
	s := e2eObject(t, l["sluice"])
	if e2eString(t, s["class"]) != "fatal" || e2eInt(t, s["attempts"]) != 1 || e2eInt(t, s["line"]) != 1 {
		t.Errorf("sluice member %s; want class fatal, attempts 1, line 1", l["sluice"])
	}
	if got, want := string(l["metadata"]), `{"row":7,"tag":"<x>"}`; got != want {
		t.Errorf("metadata %s, want %s", got, want)
	}
}

// Item 8: with no answer at all, "response" is null and "error" has a code
// and message, as the Batch API writes an expired request.
func TestRunErrorsInOpenAIBatchShapeWithoutResponse(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens: connection refused
	dir := t.TempDir()
	path := e2eWrite(t, dir, "batch.jsonl", `{"custom_id":"a","url":"/v1/chat/completions","body":{}}`+"\n")
	o := e2eRun(t, batch.Config{Input: path, BaseURL: base, Retries: -1})
	if o.code != 1 {
		t.Fatalf("exit %d, %v; want 1", o.code, o.err)
	}
	errs := e2eLines(t, o.sum.Errors)
	if len(errs) != 1 {
		t.Fatalf("errors file has %d lines, want 1", len(errs))
	}
	l := errs[0]
	if string(l["response"]) != "null" {
		t.Errorf("response %s, want null", l["response"])
	}
	e := e2eObject(t, l["error"])
	if e2eString(t, e["code"]) != "transient" || !strings.Contains(e2eString(t, e["message"]), "refused") {
		t.Errorf("error %s; want code transient and a message naming the refusal", l["error"])
	}
}

// Item 8: an Anthropic item the API refused is an "errored" result whose
// error is the API's error response whole, plus the "sluice" member.
func TestRunErrorsInAnthropicBatchShape(t *testing.T) {
	apiErr := `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_011"}`
	base := e2eAnswer(t, 400, apiErr)
	dir := t.TempDir()
	path := e2eWrite(t, dir, "msgs.jsonl", `{"custom_id":"m1","params":{"model":"claude","messages":[]},"metadata":{"k":"v"}}`+"\n")
	o := e2eRun(t, batch.Config{Input: path, BaseURL: base, Retries: -1})
	if o.code != 1 {
		t.Fatalf("exit %d, %v; want 1\n%s", o.code, o.err, o.stderr)
	}
	errs := e2eLines(t, o.sum.Errors)
	if len(errs) != 1 {
		t.Fatalf("errors file has %d lines, want 1", len(errs))
	}
	l := errs[0]
	if got, want := e2eKeys(l), []string{"custom_id", "metadata", "result", "sluice"}; !equalStrings(got, want) {
		t.Fatalf("errors line members %v, want %v", got, want)
	}
	res := e2eObject(t, l["result"])
	if e2eString(t, res["type"]) != "errored" {
		t.Errorf("result type %s, want errored", res["type"])
	}
	if !e2eJSONEqual(t, res["error"], []byte(apiErr)) {
		t.Errorf("result error %s; want the API's answer whole: %s", res["error"], apiErr)
	}
	if class, line, _ := e2eFailureOf(t, l); class != "fatal" || line != 1 {
		t.Errorf("sluice member %s; want class fatal, line 1", l["sluice"])
	}
	if e2eInt(t, e2eObject(t, l["sluice"])["attempts"]) != 1 {
		t.Errorf("sluice member %s; want attempts 1", l["sluice"])
	}
	if string(l["metadata"]) != `{"k":"v"}` {
		t.Errorf("metadata %s", l["metadata"])
	}
}

// Item 8: a run in which nothing failed leaves no errors file, not even
// the one an earlier run wrote.
func TestRunNoEmptyErrorsFile(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 41})
	dir := t.TempDir()
	path := e2eWrite(t, dir, "urls.txt", srv.URL()+"/a\n"+srv.URL()+"/b\n")
	o := e2eRun(t, batch.Config{Input: path})
	if o.code != 0 {
		t.Fatalf("exit %d, %v", o.code, o.err)
	}
	if _, err := os.Stat(o.sum.Errors); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nothing failed, yet %s exists (%v)", o.sum.Errors, err)
	}
	// An errors file left by an earlier run is removed when nothing fails.
	e2eWrite(t, dir, "urls.errors.jsonl", `{"id":9,"line":9,"class":"fatal","message":"old","attempts":1}`+"\n")
	o = e2eRun(t, batch.Config{Input: path, Restart: true})
	if o.code != 0 {
		t.Fatalf("rerun: exit %d, %v", o.code, o.err)
	}
	if _, err := os.Stat(o.sum.Errors); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("rerun without failures: the earlier errors file is still there (%v)", err)
	}
}

// Item 9: -o - writes the results to standard output and no file named
// "-"; nothing is resumed, and the errors go beside the input.
func TestRunResultsToStdout(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 42})
	dir := t.TempDir()
	t.Chdir(dir)
	path := e2eWrite(t, dir, "urls.txt", srv.URL()+"/a\n"+srv.URL()+"/b\nnot a url\n")
	for run := 1; run <= 2; run++ {
		o := e2eRun(t, batch.Config{Input: path, Out: "-"})
		if o.code != 1 || o.err != nil {
			t.Fatalf("run %d: exit %d, %v; want 1 (a bad line)\n%s", run, o.code, o.err, o.stderr)
		}
		e2eCheckSummary(t, o.sum, 2, 0, 2, 0, 1) // run 2 resumes nothing
		lines := strings.Split(strings.TrimSuffix(o.stdout, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("run %d: stdout has %d lines, want the 2 results:\n%s", run, len(lines), o.stdout)
		}
		for _, l := range lines {
			if id, ok := input.LineID([]byte(l)); !ok || (id != srv.URL()+"/a" && id != srv.URL()+"/b") {
				t.Errorf("run %d: stdout line %q is not a result", run, l)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
			t.Fatalf("run %d: a file named - was created", run)
		}
		if o.sum.Results != "standard output" || o.sum.Errors != filepath.Join(dir, "urls.errors.jsonl") {
			t.Errorf("run %d: results %q, errors %q; want standard output, urls.errors.jsonl beside the input", run, o.sum.Results, o.sum.Errors)
		}
		if n := len(e2eLines(t, o.sum.Errors)); n != 1 {
			t.Errorf("run %d: errors file has %d lines, want the bad line", run, n)
		}
		if !strings.Contains(o.stderr, "nothing is resumed") {
			t.Errorf("run %d: stderr does not say that nothing is resumed:\n%s", run, o.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "urls.results.jsonl")); err == nil {
		t.Errorf("a results file was written besides standard output")
	}
}

// Item 10: a csv id column is an id written as a string, whatever it
// looks like; an http numeric id stays a number and a string id a string;
// and text is not HTML-escaped.
func TestRunIDsKeepTheirType(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 43})
	dir := t.TempDir()
	csvPath := e2eWrite(t, dir, "rows.csv", "id,url\n10,"+srv.URL()+"/a\n020,"+srv.URL()+"/b\nx,"+srv.URL()+"/c\n")
	o := e2eRun(t, batch.Config{Input: csvPath})
	if o.code != 0 {
		t.Fatalf("csv: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	got := map[string]bool{}
	for _, l := range e2eLines(t, o.sum.Results) {
		got[string(l["id"])] = true
	}
	for _, want := range []string{`"10"`, `"020"`, `"x"`} {
		if !got[want] {
			t.Errorf("csv: no result with id %s (ids: %v)", want, got)
		}
	}

	httpPath := e2eWrite(t, dir, "calls.jsonl", `{"id":10,"url":"`+srv.URL()+`/a"}`+"\n"+`{"id":"11","url":"`+srv.URL()+`/b"}`+"\n")
	o = e2eRun(t, batch.Config{Input: httpPath})
	if o.code != 0 {
		t.Fatalf("http: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	got = map[string]bool{}
	for _, l := range e2eLines(t, o.sum.Results) {
		got[string(l["id"])] = true
	}
	if !got[`10`] || !got[`"11"`] {
		t.Errorf("http: ids %v; want 10 (a number) and \"11\" (a string)", got)
	}
}

// Item 10: a text body is stored as it came: "<" and ">" and "&", not
// \u003c; in the http shape (a JSON string) and the batch shapes.
func TestRunBodiesAreNotHTMLEscaped(t *testing.T) {
	for _, tc := range []struct {
		name, file, line, body string
	}{
		{"http text body", "calls.jsonl", `{"id":"a","url":"/x"}`, `<p>a & b</p>`},
		{"openai JSON body", "batch.jsonl", `{"custom_id":"a","url":"/v1/chat/completions","body":{}}`, `{"content":"<b>&</b>"}`},
		{"anthropic JSON body", "msgs.jsonl", `{"custom_id":"a","params":{}}`, `{"content":"<b>&</b>"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := e2eAnswer(t, 200, tc.body)
			path := e2eWrite(t, t.TempDir(), tc.file, tc.line+"\n")
			o := e2eRun(t, batch.Config{Input: path, BaseURL: base})
			if o.code != 0 {
				t.Fatalf("exit %d, %v\n%s", o.code, o.err, o.stderr)
			}
			raw, err := os.ReadFile(o.sum.Results)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(`\u00`)) || !bytes.Contains(raw, []byte("<b")) && !bytes.Contains(raw, []byte("<p")) {
				t.Errorf("results line %s; want the body's < and & as they came", raw)
			}
		})
	}
}

// Item 13: a "metadata" object on http lines comes back unchanged in the
// results and errors lines; the csv columns the request does not use come
// back as metadata.
func TestRunMetadataPassthrough(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 44})
	fail := e2eAnswer(t, 500, `{"error":"boom"}`)
	dir := t.TempDir()
	meta := `{"user":"u1","tags":["a","<b>"],"n":1.5}`
	path := e2eWrite(t, dir, "calls.jsonl",
		`{"id":"ok","url":"`+srv.URL()+`/a","metadata":`+meta+`}`+"\n"+
			`{"id":"bad","url":"`+fail+`/b","metadata":{"k":"v"}}`+"\n"+
			`{"id":"none","url":"`+srv.URL()+`/c"}`+"\n")
	o := e2eRun(t, batch.Config{Input: path, Retries: -1})
	if o.code != 1 {
		t.Fatalf("exit %d, %v; want 1 (one failure)\n%s", o.code, o.err, o.stderr)
	}
	for _, l := range e2eLines(t, o.sum.Results) {
		want := map[string]string{"ok": meta, "none": ""}[e2eID(t, l["id"])]
		if got := string(l["metadata"]); got != want {
			t.Errorf("result %s: metadata %s, want %q", l["id"], got, want)
		}
	}
	errs := e2eLines(t, o.sum.Errors)
	if len(errs) != 1 || string(errs[0]["metadata"]) != `{"k":"v"}` {
		t.Errorf("errors lines %v; want one with metadata {\"k\":\"v\"}", errs)
	}

	csvPath := e2eWrite(t, dir, "rows.csv", "id,prompt,source,page\nr1,hello,wiki,3\n")
	o = e2eRun(t, batch.Config{Input: csvPath, BaseURL: srv.URL(), URL: "/items/{{.id}}", Template: `{"q":{{json .prompt}}}`})
	if o.code != 0 {
		t.Fatalf("csv: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	lines := e2eLines(t, o.sum.Results)
	if len(lines) != 1 || string(lines[0]["metadata"]) != `{"source":"wiki","page":"3"}` {
		t.Errorf("csv result metadata %s; want the unused columns {\"source\":\"wiki\",\"page\":\"3\"}", lines[0]["metadata"])
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
