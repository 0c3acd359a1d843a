package table

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// A database in SQLite's default rollback-journal mode, which another
// program is writing to, refused the run at once ("database is locked"):
// the switch to WAL needs the lock, and SQLite does not wait for it
// through the busy timeout (outside review). Open now waits for it as a
// busy write would.
func TestSQLiteOpenWaitsForABusyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	other, err := sql.Open("sqlite", path+"?_pragma=journal_mode(delete)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	if _, err := other.Exec("CREATE TABLE theirs (x)"); err != nil {
		t.Fatal(err)
	}
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO theirs VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(500 * time.Millisecond) // their write takes a moment
		tx.Commit()
		close(released)
	}()
	tb, err := Open(context.Background(), Options{Dest: "sqlite:" + path})
	<-released
	if err != nil {
		t.Fatalf("Open while another program writes for 500ms: %v; want it to wait", err)
	}
	tb.Close()
}
