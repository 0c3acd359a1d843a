package batch_test

// --dry-run plans as the run would (reviewer r2 F4): it reads what the
// destination holds, read-only, counts the items done before as skipped
// and those whose request changed as to run again, and writes nothing.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// dryRunDest is a destination kind for the dry-run tests: the -o to give,
// the name the dry run should print, and a snapshot of everything a run
// could change there (files with their bytes and times, tables with their
// row counts), to compare before and after a dry run.
type dryRunDest struct {
	name  string
	out   func(t *testing.T, dir string) string // "" means the default results file
	shown func(dir, out string) string
	// addError puts a row in the errors file or table, which a run would
	// empty: a dry run must leave it.
	addError func(t *testing.T, dir, out string)
	snap     func(t *testing.T, dir, out string) string
}

// dirSnapshot lists dir's files with their sizes, times and bytes' hashes.
func dirSnapshot(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %d %s %x\n", e.Name(), fi.Size(), fi.ModTime().Format(time.RFC3339Nano), sha256.Sum256(data))
	}
	return b.String()
}

// tableSnapshot lists the tables of the destination with their rows.
func tableSnapshot(t *testing.T, out, listTables string) string {
	t.Helper()
	var b strings.Builder
	for _, row := range tableQuery(t, out, listTables) {
		n := tableQuery(t, out, `SELECT count(*) FROM "`+row[0]+`"`)
		fmt.Fprintf(&b, "%s %s\n", row[0], n[0][0])
	}
	return b.String()
}

var dryRunDests = []dryRunDest{
	{
		name:  "jsonl",
		out:   func(*testing.T, string) string { return "" },
		shown: func(dir, _ string) string { return filepath.Join(dir, "items.results.jsonl") },
		addError: func(t *testing.T, dir, _ string) {
			e2eWrite(t, dir, "items.errors.jsonl", `{"id":"x","error":"earlier"}`+"\n")
		},
		snap: func(t *testing.T, dir, _ string) string { return dirSnapshot(t, dir) },
	},
	{
		name:  "sqlite",
		out:   func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "out.db") },
		shown: func(_, out string) string { return "table sluice_results of " + out },
		addError: func(t *testing.T, _, out string) {
			tableQuery(t, out, `INSERT INTO sluice_results_errors (id, class, message) VALUES ('x', 'fatal', 'earlier')`)
		},
		snap: func(t *testing.T, dir, out string) string {
			s := dirSnapshot(t, dir)
			if _, err := os.Stat(strings.TrimPrefix(out, "sqlite:")); err == nil {
				s += tableSnapshot(t, out, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
			}
			return s
		},
	},
	{
		name:  "postgres",
		out:   func(t *testing.T, _ string) string { return tabletest.Postgres(t) },
		shown: func(_, out string) string { return "table sluice_results of " + out },
		addError: func(t *testing.T, _, out string) {
			tableQuery(t, out, `INSERT INTO sluice_results_errors (id, class, message, failed_at) VALUES ('x', 'fatal', 'earlier', now())`)
		},
		snap: func(t *testing.T, dir, out string) string {
			return dirSnapshot(t, dir) + tableSnapshot(t, out, `SELECT table_name FROM information_schema.tables WHERE table_schema = '`+tabletest.Schema(t, out)+`' ORDER BY 1`)
		},
	},
}

// TestDryRunPlansFromTheDestination runs a batch to the end, changes one
// item's body, and dry-runs it again: the plan skips what was done with
// the same request, runs the changed item again, estimates only that one,
// names the destination, sends nothing, and leaves every byte and row
// where it was. Before the first run, and with --restart, it says so.
func TestDryRunPlansFromTheDestination(t *testing.T) {
	for _, d := range dryRunDests {
		t.Run(d.name, func(t *testing.T) {
			srv := e2eMock(t, mock.Config{Seed: 71})
			dir := t.TempDir()
			ids := e2eNames("d", 10)
			body := map[string]string{}
			for _, id := range ids {
				body[id] = `{"model": "m-1", "prompt": "hello ` + id + `"}`
			}
			out := d.out(t, dir)
			cfg := batch.Config{Input: e2eHTTPBodies(t, dir, ids, body), Out: out, BaseURL: srv.URL(), Limits: limitsC(4)}
			cfg.Limits.Rate.N, cfg.Limits.Rate.Per = 10, time.Second
			shown := d.shown(dir, out)

			dry := func(t *testing.T, restart bool) e2eOutcome {
				t.Helper()
				c := cfg
				c.DryRun, c.Restart = true, restart
				rec := newE2ERecorder(t)
				c.Base = rec
				before := d.snap(t, dir, out)
				o := e2eRun(t, c)
				if o.code != 0 || o.err != nil {
					t.Fatalf("dry run: exit %d, %v\n%s%s", o.code, o.err, o.stdout, o.stderr)
				}
				if n := len(rec.all()); n != 0 {
					t.Errorf("the dry run sent %d requests", n)
				}
				if after := d.snap(t, dir, out); after != before {
					t.Errorf("the dry run changed the destination:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				if !strings.Contains(o.stdout, "results to "+shown) || !strings.Contains(o.stdout, "results: "+shown) {
					t.Errorf("the dry run does not name the destination %q:\n%s", shown, o.stdout)
				}
				return o
			}

			tests := []struct {
				name    string
				before  func(t *testing.T) // what to do to the destination first
				restart bool
				items   int // to run
				resumed int
				changed int
				want    []string
				not     []string
			}{
				{
					name: "new", before: func(*testing.T) {}, items: 10,
					want: []string{": new\n", "10 items to run", "least time at the given limits: 1s"},
					not:  []string{"done before"},
				},
				{
					name: "one changed",
					before: func(t *testing.T) {
						if o := e2eRun(t, cfg); o.code != 0 || o.err != nil {
							t.Fatalf("first run: exit %d, %v\n%s", o.code, o.err, o.stderr)
						}
						body["d004"] = `{"model": "m-2", "prompt": "hello d004"}`
						e2eHTTPBodies(t, dir, ids, body)
						d.addError(t, dir, out)
					},
					items: 1, resumed: 9, changed: 1,
					want: []string{": 10 earlier results\n", "1 items to run, 0 bad lines", "9 done before, skipped; 1 changed since, would run again", "least time at the given limits: 100ms"},
				},
				{
					name: "restart", before: func(*testing.T) {}, restart: true, items: 10,
					want: []string{"--restart: its 10 earlier results would be moved aside, not resumed", "10 items to run", "least time at the given limits: 1s"},
					not:  []string{"done before"},
				},
			}
			for _, tt := range tests {
				tt.before(t)
				o := dry(t, tt.restart)
				if o.sum.Items != tt.items || o.sum.Resumed != tt.resumed || o.sum.Changed != tt.changed {
					t.Errorf("%s: dry run counted %d to run, %d skipped, %d changed; want %d, %d, %d", tt.name, o.sum.Items, o.sum.Resumed, o.sum.Changed, tt.items, tt.resumed, tt.changed)
				}
				for _, w := range tt.want {
					if !strings.Contains(o.stdout, w) {
						t.Errorf("%s: the dry run's output lacks %q:\n%s", tt.name, w, o.stdout)
					}
				}
				for _, w := range tt.not {
					if strings.Contains(o.stdout, w) {
						t.Errorf("%s: the dry run's output has %q:\n%s", tt.name, w, o.stdout)
					}
				}
			}
		})
	}
}

// TestDryRunDestinationTrouble: a torn last line, which a run would cut,
// is reported and left; a destination the run would refuse fails the dry
// run with the run's own error, and the dry run still writes nothing.
func TestDryRunDestinationTrouble(t *testing.T) {
	tests := []struct {
		name    string
		out     func(t *testing.T, dir string) string // "" for the default results file
		setup   func(t *testing.T, dir, out string)
		restart bool
		code    int
		want    string // in the output (code 0) or the error (code 2)
	}{
		{
			name: "jsonl torn last line",
			out:  func(*testing.T, string) string { return "" },
			setup: func(t *testing.T, dir, _ string) {
				e2eWrite(t, dir, "items.results.jsonl", `{"id":"d001","status":200}`+"\n"+`{"id":"d002","sta`)
			},
			want: ": 1 earlier result, 1 without a request fingerprint (taken as unchanged); a torn last line, which the run would cut (its item runs again)",
		},
		{
			name: "jsonl not a results file",
			out:  func(*testing.T, string) string { return "" },
			setup: func(t *testing.T, dir, _ string) {
				e2eWrite(t, dir, "items.results.jsonl", "not json\n"+`{"id":"d001"}`+"\n")
			},
			code: 2, want: "line 1: not valid JSON",
		},
		{
			name: "sqlite table of another shape",
			out:  func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "out.db") },
			setup: func(t *testing.T, _, out string) {
				tableQuery(t, out, `CREATE TABLE sluice_results (id TEXT PRIMARY KEY, answer TEXT)`)
			},
			code: 2, want: "incompatible table: table sluice_results has no column line",
		},
		{
			name: "postgres table of another shape",
			out:  func(t *testing.T, _ string) string { return tabletest.Postgres(t) },
			setup: func(t *testing.T, _, out string) {
				tableQuery(t, out, `CREATE TABLE sluice_results (id text PRIMARY KEY, answer text)`)
			},
			code: 2, want: "incompatible table: table sluice_results has no column line",
		},
		{
			name: "sqlite table of another shape, --restart",
			out:  func(_ *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "out.db") },
			setup: func(t *testing.T, _, out string) {
				tableQuery(t, out, `CREATE TABLE sluice_results (id TEXT PRIMARY KEY, answer TEXT)`)
			},
			restart: true, want: ": --restart: what is there would be moved aside, unread\n",
		},
		{
			name:  "postgres unreachable, its password hidden",
			out:   func(*testing.T, string) string { return "postgres://u:s3cret@127.0.0.1:1/test?sslmode=disable" },
			setup: func(*testing.T, string, string) {},
			code:  2, want: "cannot reach the database: postgres://u:***@127.0.0.1:1/test",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := e2eMock(t, mock.Config{Seed: 72})
			dir := t.TempDir()
			ids := e2eNames("d", 3)
			body := map[string]string{}
			for _, id := range ids {
				body[id] = `{"prompt": "hello ` + id + `"}`
			}
			out := tt.out(t, dir)
			cfg := batch.Config{Input: e2eHTTPBodies(t, dir, ids, body), Out: out, BaseURL: srv.URL(), Limits: limitsC(4)}
			tt.setup(t, dir, out)
			before := dirSnapshot(t, dir)
			c := cfg
			c.DryRun, c.Restart = true, tt.restart
			rec := newE2ERecorder(t)
			c.Base = rec
			o := e2eRun(t, c)
			if o.code != tt.code {
				t.Fatalf("dry run: exit %d, %v; want %d\n%s", o.code, o.err, tt.code, o.stdout)
			}
			if after := dirSnapshot(t, dir); after != before {
				t.Errorf("the dry run changed the directory:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if n := len(rec.all()); n != 0 {
				t.Errorf("the dry run sent %d requests", n)
			}
			if strings.Contains(o.stdout+o.stderr+fmt.Sprint(o.err), "s3cret") {
				t.Errorf("the dry run shows a password:\n%s%s%v", o.stdout, o.stderr, o.err)
			}
			if tt.code == 0 {
				if !strings.Contains(o.stdout, tt.want) {
					t.Errorf("the dry run's output lacks %q:\n%s", tt.want, o.stdout)
				}
				return
			}
			if !strings.Contains(o.err.Error(), tt.want) || !strings.Contains(o.stdout, "the run would refuse it: "+strings.TrimPrefix(o.err.Error(), "usage: ")) {
				t.Errorf("dry run: error %v, output:\n%s\nwant the error %q in both", o.err, o.stdout, tt.want)
			}
			// The run itself refuses the destination with the same error.
			if r := e2eRun(t, cfg); r.code != 2 || r.err == nil || r.err.Error() != o.err.Error() {
				t.Errorf("the run: exit %d, %v; want 2 and the dry run's error %v", r.code, r.err, o.err)
			}
		})
	}
}
