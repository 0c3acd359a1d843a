package main_test

// `sluice run -o sqlite:PATH` and `-o postgres://...` through the built
// binary: killed with SIGKILL at random moments, then resumed, the table
// holds every id exactly once, each row the answer to its own request.

import (
	"context"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/table/tabletest"
)

// dbRows returns the id and the response's "path" of every row of table
// at dest.
func dbRows(t *testing.T, dest, table string) map[string]string {
	t.Helper()
	q := "SELECT id, coalesce(response->>'path', '') FROM " + table
	out := map[string]string{}
	add := func(id, path string) {
		if _, dup := out[id]; dup {
			t.Fatalf("id %s is in %s twice", id, table)
		}
		out[id] = path
	}
	if path, ok := strings.CutPrefix(dest, "sqlite:"); ok {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(q)
		if err != nil {
			if strings.Contains(err.Error(), "no such table") {
				return out
			}
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, p string
			if err := rows.Scan(&id, &p); err != nil {
				t.Fatal(err)
			}
			add(id, p)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists)
	if !exists {
		return out
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var id, p string
	if _, err := pgx.ForEachRow(rows, []any{&id, &p}, func() error { add(id, p); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunIntoDatabaseSurvivesKill(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("kill -9 is tested on Unix")
	}
	if testing.Short() {
		t.Skip("kills the binary many times")
	}
	bin := binBuild(t)
	srv := binMock(t, mock.Config{Latency: mock.FixedLatency(2 * time.Millisecond)})
	for _, b := range []struct {
		name string
		dest func(t *testing.T, dir string) string
	}{
		{"sqlite", func(t *testing.T, dir string) string { return "sqlite:" + filepath.Join(dir, "results.db") }},
		{"postgres", func(t *testing.T, dir string) string { return tabletest.Postgres(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := b.dest(t, dir)
			ids := binInput(t, filepath.Join(dir, "big.jsonl"), 3000)
			const minKills = 10
			kills := 0
			for round := 1; kills < minKills; round++ {
				if round > 10 {
					t.Fatalf("%d kills in %d rounds", kills, round-1)
				}
				k := dbKillRound(t, bin, dir, srv, ids, dest, fmt.Sprintf("round%d", round))
				t.Logf("round %d: %d kills, then a run completed", round, k)
				kills += k
			}
		})
	}
}

// dbKillRound runs the binary into table, killing it after 50-400ms until
// a run completes; after each kill the table must hold no fewer rows than
// before, each the answer to its own id's request, and at the end every
// id once.
func dbKillRound(t *testing.T, bin, dir string, srv *mock.Server, ids []string, dest, table string) int {
	t.Helper()
	kills, saved := 0, 0
	check := func(when string) map[string]string {
		rows := dbRows(t, dest, table)
		for id, path := range rows {
			if path != "/item/"+id {
				t.Fatalf("%s: row %s holds the answer to %q, not to /item/%s", when, id, path, id)
			}
		}
		return rows
	}
	for iter := 0; ; iter++ {
		if iter > 100 {
			t.Fatalf("no run completed in %d tries", iter)
		}
		cmd, _, stderr := binStart(t, bin, dir, "run", "-c", "16", "--progress", "none", "--base-url", srv.URL(), "-o", dest, "--table", table, "big.jsonl")
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if code := binCode(t, err); code != 0 {
				t.Fatalf("run %d: exit %d\n%s", iter, code, stderr.String())
			}
			rows := check("after the run that completed")
			if len(rows) != len(ids) {
				t.Fatalf("run %d exited 0 with %d of %d ids in the table", iter, len(rows), len(ids))
			}
			for _, id := range ids {
				if _, ok := rows[id]; !ok {
					t.Fatalf("id %s is missing", id)
				}
			}
			return kills
		case <-time.After(time.Duration(50+mrand.IntN(351)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			if err := <-exited; err == nil {
				t.Logf("run %d completed as it was killed", iter)
				continue
			}
			kills++
		}
		rows := check(fmt.Sprintf("after kill %d", kills))
		if len(rows) < saved {
			t.Fatalf("after kill %d the table holds %d ids, fewer than the %d before: results were lost", kills, len(rows), saved)
		}
		saved = len(rows)
	}
}
