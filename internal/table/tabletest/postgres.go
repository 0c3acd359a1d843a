// Package tabletest gives tests a PostgreSQL schema of their own on the
// server the machine runs (SLUICE_TEST_POSTGRES, else
// postgres://postgres@127.0.0.1:5432/test), dropped when the test ends.
// Without a server the test is skipped, unless CI=true, where it fails.
package tabletest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL is the test server's URL: SLUICE_TEST_POSTGRES, else the machine's
// own.
func URL() string {
	if u := os.Getenv("SLUICE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Postgres makes a schema of the test's own and returns a URL whose
// search_path names it (so everything the test makes goes there) and
// whose application_name is the schema's name (so that [Terminate] finds
// its connections). The schema is dropped, with all it holds, when the
// test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s: %v (CI=true: the server is required)", URL(), err)
		}
		t.Skipf("no PostgreSQL at %s (set SLUICE_TEST_POSTGRES): %v", URL(), err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	schema := "sluice_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, URL())
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		// End the test's own connections first (one a failed test left
		// open holds locks), then drop everything it made.
		c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()", schema)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Schema is the schema a [Postgres] URL names.
func Schema(t testing.TB, dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// Terminate ends the server's connections made with dest (a [Postgres]
// URL), as a server restart or an administrator would, and waits until
// they are gone. It returns how many it ended.
func Terminate(t testing.TB, dest string) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", Schema(t, dest)).Scan(&n); err != nil {
		t.Fatalf("terminating %s's connections: %v", Schema(t, dest), err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var left int
		c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", Schema(t, dest)).Scan(&left)
		if left == 0 {
			return n
		}
	}
	t.Fatalf("%s's connections did not end", Schema(t, dest))
	return n
}
