package main

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/sluicehq/sluice/internal/mock"
)

// The README's CSV → API → SQLite pipeline, as written there, against the
// mock Anthropic API: the command runs, and the README's query reads each
// answer back beside its row's title.
func TestREADMEDatabasePipeline(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	i := strings.Index(section, "### Into a database")
	if i < 0 {
		t.Fatal("README.md has no \"### Into a database\" section")
	}
	section = section[i:]
	csvBlock := regexp.MustCompile("(?s)```csv\n(.*?)```").FindStringSubmatch(section)
	shBlock := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	if csvBlock == nil || shBlock == nil {
		t.Fatal("the section lacks its ```csv or ```sh block")
	}
	var command, querySQL string
	for _, line := range strings.Split(strings.ReplaceAll(shBlock[1], "\\\n", " "), "\n") {
		switch {
		case strings.HasPrefix(line, "sluice run "):
			command = line
		case strings.HasPrefix(line, "sqlite3 answers.db "):
			querySQL = strings.Trim(strings.TrimPrefix(line, "sqlite3 answers.db "), `"`)
		}
	}
	if command == "" || querySQL == "" {
		t.Fatalf("the ```sh block lacks the sluice run command or the sqlite3 query:\n%s", shBlock[1])
	}
	args, err := shellWords(strings.TrimPrefix(command, "sluice "))
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}

	srv, err := mock.Start(mock.Config{Style: mock.Anthropic})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Chdir(t.TempDir())
	t.Setenv("ANTHROPIC_API_KEY", "test-key")
	t.Setenv("ANTHROPIC_BASE_URL", srv.URL())
	if err := os.WriteFile("texts.csv", []byte(csvBlock[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--progress", "none"))
	if err := root.Execute(); err != nil {
		t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	db, err := sql.Open("sqlite", "answers.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(querySQL)
	if err != nil {
		t.Fatalf("the README's query %q: %v", querySQL, err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, title, answer sql.NullString
		if err := rows.Scan(&id, &title, &answer); err != nil {
			t.Fatal(err)
		}
		if answer.String == "" {
			t.Errorf("row %s has no answer", id.String)
		}
		got = append(got, id.String+" "+title.String)
	}
	if want := "1 Sluice gates,2 Rate limits"; strings.Join(got, ",") != want {
		t.Errorf("the README's query read %q, want %q", strings.Join(got, ","), want)
	}
}

// shellWords splits a command line as sh would for the README's
// commands: words separated by spaces, '...' quoting everything inside.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '\'':
			quoted, in = true, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quoted {
		return nil, errUnclosedQuote
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

var errUnclosedQuote = errors.New("unclosed quote")
