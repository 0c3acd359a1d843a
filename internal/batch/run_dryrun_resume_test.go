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
		shown: func(_, out string) string { return "table sluice_results of " },
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
