package main_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/sluicehq/sluice/internal/mock"
)

// TestRunIntoDatabaseStoppedSaysWhyOnce: a run the database stops (another
// program holds SQLite's write lock past the busy timeout) exits 3 and
// says "stopped early" once, in the summary, not again as the error.
func TestRunIntoDatabaseStoppedSaysWhyOnce(t *testing.T) {
	bin := binBuild(t)
	srv := binMock(t, mock.Config{Latency: mock.FixedLatency(5 * time.Millisecond)})
	dir := t.TempDir()
	binInput(t, filepath.Join(dir, "big.jsonl"), 2000)
	path := filepath.Join(dir, "answers.db")
	cmd, _, stderr := binStart(t, bin, dir, "run", "-c", "4", "--progress", "none", "--base-url", srv.URL(), "-o", "sqlite:"+path+"?_pragma=busy_timeout(50)", "big.jsonl")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no rows written")
		}
		var k int
		if db.QueryRow("SELECT count(*) FROM sluice_results").Scan(&k) == nil && k >= 20 {
			break
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	code := binWait(t, cmd, 60*time.Second)
	conn.ExecContext(context.Background(), "ROLLBACK")
	out := stderr.String()
	if code != 3 || strings.Count(out, "stopped early") != 1 || !strings.Contains(out, "sluice: stopped early: writing results") {
		t.Errorf("exit %d, %d times \"stopped early\"; want 3, once, in the summary\n%s", code, strings.Count(out, "stopped early"), out)
	}
}
