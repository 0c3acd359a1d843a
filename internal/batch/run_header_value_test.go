package batch_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
)

// A header value net/http cannot send (a line break, or the \r a CRLF
// .env file leaves at the end of a key) failed every attempt before
// anything was sent, was taken for a transient failure, and each item
// was retried nine times: minutes of a run that sent nothing, blaming the
// API (outside review). The run's own headers are checked at the start:
// exit 2, naming the header and the variable, never the value.
func TestRunRefusesAHeaderValueItCannotSend(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		cfg  batch.Config
		want []string
	}{
		{"-H with a line break", batch.Config{Input: e2eHTTPFile(t, dir, []string{"a", "b"}), BaseURL: srv.URL,
			Headers: []string{"X-A: b\nc"}}, []string{`-H "X-A`, "line break"}},
		{"-H from a variable ending in CR", batch.Config{Input: e2eHTTPFile(t, dir, []string{"a", "b"}), BaseURL: srv.URL,
			Headers: []string{"X-Token: ${TOKEN}"}, Getenv: e2eEnv("TOKEN", "tok-secret\r")}, []string{"X-Token", "${TOKEN}", "line break"}},
		{"the preset's key ending in CR", batch.Config{Input: e2eMessages(t, dir, 2), API: "anthropic", BaseURL: srv.URL,
			Getenv: e2eEnv("ANTHROPIC_API_KEY", "sk-secret\r")}, []string{"X-Api-Key", "${ANTHROPIC_API_KEY}", "line break"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := e2eRun(t, c.cfg)
			if o.code != 2 || !errors.Is(o.err, batch.ErrUsage) {
				t.Fatalf("exit %d, %v; want 2, a usage error\n%s", o.code, o.err, o.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(o.err.Error(), w) {
					t.Errorf("error %q does not say %q", o.err, w)
				}
			}
			if strings.Contains(o.err.Error(), "secret") {
				t.Errorf("error %q shows the value", o.err)
			}
		})
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the server saw %d calls; want none", n)
	}
}
