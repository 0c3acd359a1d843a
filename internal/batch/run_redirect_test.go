package batch_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
)

// sluice run did not follow redirects: every 301, 302, 307 was a fatal
// failure, and five in a row stopped the run with advice about model
// names (outside review). It follows them as http.Client does: a 303 (and
// a 301 or 302 of a POST) turns into a GET, a 307 or 308 sends the same
// method and body again, keys are not sent to another host, and ten hops
// are the most.
func TestRunFollowsRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every header that may carry a credential stays behind; so
		// does a Referer (a reviewer's X-Goog-Api-Key and X-Auth-Token
		// reached the host redirected to).
		got := ""
		for _, h := range []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key", "X-Auth-Token", "Referer"} {
			got += r.Header.Get(h)
		}
		io.WriteString(w, `{"credentials":"`+got+`","accept":"`+r.Header.Get("Accept")+`"}`)
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusMovedPermanently)
		case "/see":
			http.Redirect(w, r, "/here", http.StatusSeeOther)
		case "/keep":
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
		case "/away":
			http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/there", http.StatusFound) // another host name
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/here":
			out, _ := json.Marshal(map[string]string{"method": r.Method, "body": string(body), "auth": r.Header.Get("Authorization")})
			w.Write(out)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	in := e2eWrite(t, dir, "calls.jsonl", strings.Join([]string{
		`{"id":"moved","url":"/moved"}`,
		`{"id":"see","method":"POST","url":"/see","body":{"q":1}}`,
		`{"id":"keep","method":"POST","url":"/keep","body":{"q":2}}`,
		`{"id":"away","url":"/away"}`,
		`{"id":"loop","url":"/loop"}`,
	}, "\n")+"\n")
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL, Headers: []string{"Authorization: Bearer k", "X-Api-Key: k", "X-Goog-Api-Key: k", "X-Auth-Token: k", "Referer: http://x/?token=q", "Accept: text/plain"}})
	if o.sum.Succeeded != 4 || o.sum.Failed != 1 {
		t.Fatalf("succeeded %d, failed %d; want 4 and the loop failed\n%s", o.sum.Succeeded, o.sum.Failed, o.stderr)
	}
	want := map[string]string{
		"moved": `{"auth":"Bearer k","body":"","method":"GET"}`,
		"see":   `{"auth":"Bearer k","body":"","method":"GET"}`,
		"keep":  `{"auth":"Bearer k","body":"{\"q\":2}","method":"POST"}`,
		"away":  `{"credentials":"","accept":"text/plain"}`,
	}
	for _, l := range e2eLines(t, filepath.Join(dir, "calls.results.jsonl")) {
		var id string
		json.Unmarshal(l["id"], &id)
		if got := string(l["body"]); got != want[id] {
			t.Errorf("%s: body %s, want %s", id, got, want[id])
		}
	}
	errs := e2eLines(t, filepath.Join(dir, "calls.errors.jsonl"))
	if len(errs) != 1 || !strings.Contains(string(errs[0]["message"]), "stopped after 10 redirects") {
		t.Errorf("errors %v; want the loop, stopped after 10 redirects", errs)
	}
}
