package batch_test

// Item 4 and 5 of issue 10: a resumed run skips only the items whose
// request is the same as the one their result came from, URL lists keep
// their ids when a line is inserted, and --restart keeps earlier results.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/mock"
)

// e2eHTTPBodies writes an http input of POSTs to /item/<id> with the given
// bodies, keyed by id, in the order of ids.
func e2eHTTPBodies(t *testing.T, dir string, ids []string, body map[string]string) string {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, `{"id": %q, "method": "POST", "url": "/item/%s", "body": %s}`+"\n", id, id, body[id])
	}
	return e2eWrite(t, dir, "items.jsonl", b.String())
}

func TestRunResumeRerunsAChangedRequest(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip-changed=%v", skip), func(t *testing.T) {
			srv := e2eMock(t, mock.Config{Seed: 61})
			dir := t.TempDir()
			ids := e2eNames("c", 10)
			body := map[string]string{}
			for _, id := range ids {
				body[id] = `{"model": "m-1", "prompt": "hello ` + id + `"}`
			}
			cfg := batch.Config{Input: e2eHTTPBodies(t, dir, ids, body), BaseURL: srv.URL(), Limits: limitsC(4)}
			if o := e2eRun(t, cfg); o.code != 0 || o.err != nil {
				t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
			}

			body["c004"] = `{"model": "m-2", "prompt": "hello c004"}` // a new model for one line
			e2eHTTPBodies(t, dir, ids, body)
			rec := newE2ERecorder(t)
			cfg.Base, cfg.SkipChanged = rec, skip
			o := e2eRun(t, cfg)
			if o.code != 0 || o.err != nil {
				t.Fatalf("second run: exit %d, %v\n%s", o.code, o.err, o.stderr)
			}
			if o.sum.Changed != 1 || o.sum.ChangedKept != skip {
				t.Errorf("summary: changed %d, kept %v; want 1, %v", o.sum.Changed, o.sum.ChangedKept, skip)
			}
			lines := e2eLines(t, o.sum.Results)
			ids10 := e2eIDs(t, lines, "id")
			if skip {
				e2eCheckSummary(t, o.sum, 0, 10, 0, 0, 0)
				if n := len(rec.all()); n != 0 {
					t.Errorf("--skip-changed sent %d requests, want 0", n)
				}
				if len(lines) != 10 {
					t.Errorf("results file has %d lines, want 10", len(lines))
				}
				return
			}
			e2eCheckSummary(t, o.sum, 1, 9, 1, 0, 0)
			sent := rec.all()
			if len(sent) != 1 || sent[0].path != "/item/c004" || !strings.Contains(sent[0].body, `"m-2"`) {
				t.Fatalf("second run sent %v; want only the changed c004 with model m-2", sent)
			}
			// The new result replaces the old one, which is moved aside,
			// and a third run skips it.
			e2eSameSet(t, "results", ids10, ids)
			aside := filepath.Join(dir, "items.results.1.jsonl")
			if o.sum.Superseded != 1 || o.sum.SupersededTo != aside {
				t.Errorf("superseded %d to %q; want 1 to %s", o.sum.Superseded, o.sum.SupersededTo, aside)
			}
			old := e2eLines(t, aside)
			if len(old) != 1 || e2eID(t, old[0]["id"]) != "c004" {
				t.Fatalf("%s holds %v; want the old c004 result", aside, old)
			}
			for _, l := range lines {
				if e2eID(t, l["id"]) == "c004" && string(l["sluice"]) == string(old[0]["sluice"]) {
					t.Errorf("c004 kept the old result's fingerprint %s; want the new request's", l["sluice"])
				}
			}
			third := e2eRun(t, cfg)
			if third.code != 0 || third.sum.Changed != 0 {
				t.Errorf("third run: exit %d, changed %d; want 0, 0 (the new result is the same request)\n%s", third.code, third.sum.Changed, third.stderr)
			}
			e2eCheckSummary(t, third.sum, 0, 10, 0, 0, 0)
		})
	}
}

// A key is not part of what the API is asked: a new key (or a rotated
// one) re-runs nothing, and the key is never in the results.
func TestRunResumeIgnoresTheKey(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 62})
	dir := t.TempDir()
	ids := e2eNames("k", 5)
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), BaseURL: srv.URL(), Getenv: e2eEnv("TOKEN", "secret-one"),
		Headers: []string{"Authorization: Bearer ${TOKEN}", "X-Token: ${TOKEN}", "X-Tag: same"}}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	cfg.Getenv = e2eEnv("TOKEN", "secret-two")
	o := e2eRun(t, cfg)
	e2eCheckSummary(t, o.sum, 0, 5, 0, 0, 0)
	if b, _ := os.ReadFile(o.sum.Results); strings.Contains(string(b), "secret") {
		t.Errorf("the results file holds the key")
	}
	cfg.Headers[2] = "X-Tag: other" // a header that is no key does count
	o = e2eRun(t, cfg)
	if o.sum.Changed != 5 || o.sum.Succeeded != 5 {
		t.Errorf("after a header changed: changed %d, succeeded %d; want 5, 5", o.sum.Changed, o.sum.Succeeded)
	}
}

func TestRunResumeURLListWithAnInsertedLine(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 63})
	dir := t.TempDir()
	paths := []string{"/u/a", "/u/b", "/u/c", "/u/d"}
	cfg := batch.Config{Input: e2eWrite(t, dir, "urls.txt", strings.Join(paths, "\n")+"\n"), BaseURL: srv.URL()}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	// A new URL on the first line shifts every line number.
	e2eWrite(t, dir, "urls.txt", "/u/new\n"+strings.Join(paths, "\n")+"\n")
	rec := newE2ERecorder(t)
	cfg.Base = rec
	o := e2eRun(t, cfg)
	if o.code != 0 || o.err != nil {
		t.Fatalf("second run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 1, 4, 1, 0, 0)
	var sent []string
	for _, s := range rec.all() {
		sent = append(sent, s.path)
	}
	if !slices.Equal(sent, []string{"/u/new"}) {
		t.Errorf("second run fetched %v; want only /u/new", sent)
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), append(paths, "/u/new"))
}

// Results written before fingerprints resume as they did, and the run
// says once that it takes them as unchanged.
func TestRunResumeResultsWithoutFingerprints(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 64})
	dir := t.TempDir()
	ids := []string{"o1", "o2", "o3"}
	in := e2eHTTPFile(t, dir, ids)
	e2eWrite(t, dir, "items.results.jsonl", `{"id":"o1","status":200,"body":{},"attempts":1,"elapsed_ms":3}`+"\n"+
		`{"id":"o2","status":200,"body":{},"attempts":1,"elapsed_ms":3}`+"\n")
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL()})
	if o.code != 0 || o.err != nil {
		t.Fatalf("exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 1, 2, 1, 0, 0)
	if o.sum.Unrecorded != 2 || o.sum.Changed != 0 {
		t.Errorf("summary: unrecorded %d, changed %d; want 2, 0", o.sum.Unrecorded, o.sum.Changed)
	}
	if n := strings.Count(o.stderr, "no request fingerprint"); n != 1 {
		t.Errorf("stderr says %d times that results have no fingerprint, want once:\n%s", n, o.stderr)
	}
}

func TestRunCSVIDColumn(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 65})
	dir := t.TempDir()
	rows := []string{"key,url", "k-1,/p/1", "k-2,/p/2"}
	cfg := batch.Config{Input: e2eWrite(t, dir, "rows.csv", strings.Join(rows, "\n")+"\n"), BaseURL: srv.URL(), IDColumn: "key"}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	e2eWrite(t, dir, "rows.csv", strings.Join([]string{rows[0], "k-0,/p/0", rows[1], rows[2]}, "\n")+"\n")
	o := e2eRun(t, cfg)
	e2eCheckSummary(t, o.sum, 1, 2, 1, 0, 0)
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), []string{"k-0", "k-1", "k-2"})

	cfg.IDColumn = "nope"
	if o := e2eRun(t, cfg); o.code != 2 || !strings.Contains(fmt.Sprint(o.err), "--id-column") {
		t.Errorf("--id-column naming no column: exit %d, %v; want 2 and an error naming the flag", o.code, o.err)
	}
	cfg.IDColumn, cfg.Format = "key", input.FormatHTTP
	if o := e2eRun(t, cfg); o.code != 2 {
		t.Errorf("--id-column with http input: exit %d, %v; want 2", o.code, o.err)
	}
}

func TestRunRestartMovesEarlierResultsAside(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 66})
	dir := t.TempDir()
	ids := e2eNames("m", 6)
	out := filepath.Join(dir, "out.jsonl")
	cfg := batch.Config{Input: e2eHTTPFile(t, dir, ids), Out: out, BaseURL: srv.URL()}
	if o := e2eRun(t, cfg); o.code != 0 {
		t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	first, _ := os.ReadFile(out)
	if err := os.WriteFile(filepath.Join(dir, "out.errors.jsonl"), []byte(`{"id":"x","line":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Restart = true
	for n := 1; n <= 2; n++ {
		if n > 1 {
			first, _ = os.ReadFile(out)
		}
		o := e2eRun(t, cfg)
		if o.code != 0 || o.err != nil {
			t.Fatalf("restart %d: exit %d, %v\n%s", n, o.code, o.err, o.stderr)
		}
		e2eCheckSummary(t, o.sum, 6, 0, 6, 0, 0)
		aside := filepath.Join(dir, fmt.Sprintf("out.%d.jsonl", n))
		if o.sum.MovedAside != aside || !strings.Contains(o.stderr, aside) {
			t.Errorf("restart %d: moved aside to %q, stderr %q; want %s named", n, o.sum.MovedAside, o.stderr, aside)
		}
		got, err := os.ReadFile(aside)
		if err != nil || string(got) != string(first) {
			t.Errorf("restart %d: %s holds %d bytes (%v); want the %d of the earlier results", n, aside, len(got), err, len(first))
		}
		if n == 1 {
			if b, err := os.ReadFile(filepath.Join(dir, "out.errors.1.jsonl")); err != nil || !strings.Contains(string(b), `"x"`) {
				t.Errorf("earlier errors not moved to out.errors.1.jsonl: %q, %v", b, err)
			}
		}
		if n := len(e2eLines(t, out)); n != 6 {
			t.Errorf("restart %d: results file has %d lines, want 6", n, n)
		}
	}
	if o := e2eRun(t, batch.Config{Input: cfg.Input, Out: out, BaseURL: srv.URL()}); o.sum.Resumed != 6 {
		t.Errorf("resume after restart: resumed %d, want 6", o.sum.Resumed)
	}
}
