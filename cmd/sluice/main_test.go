package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// run executes the command line and returns its output and error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 2
	}
	return 0
}

func TestHelpNamesTheCommands(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"demo", "mock", "version", "completion"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help does not mention %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "sluice ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		out, err := run(t, "completion", shell)
		if err != nil || !strings.Contains(out, "sluice") {
			t.Errorf("completion %s: %v (%d bytes)", shell, err, len(out))
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := [][]string{
		{"demo", "--requests", "0"},
		{"demo", "--rate", "fast"},
		{"demo", "--latency", "soon"},
		{"demo", "--progress", "loud"},
		{"demo", "--no-such-flag"},
		{"mock", "--rate", "20/x"},
		{"mock", "--style", "cobol"},
		{"no-such-command"},
	}
	for _, args := range tests {
		_, err := run(t, args...)
		if code := exitCode(err); code != 2 {
			t.Errorf("sluice %s: exit %d (%v), want 2", strings.Join(args, " "), code, err)
		}
	}
}
