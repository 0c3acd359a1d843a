package sluice

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"
)

// namesReadIn returns the header names file reads: the literal names
// passed to headerValue and the literal keys of index expressions on h.
func namesReadIn(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := make(map[string]bool)
	literal := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				names[s] = true
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "headerValue" && len(n.Args) == 2 {
				literal(n.Args[1])
			}
		case *ast.IndexExpr:
			if x, ok := n.X.(*ast.Ident); ok && x.Name == "h" {
				literal(n.Index)
			}
		}
		return true
	})
	return names
}

// mayLimit must pass every response carrying a header the parsers read,
// and only those: the names are read out of headers.go itself, so a
// parser reading a new name fails here until rateLimitHeaderNames has it.
func TestRateLimitHeaderNamesAreRead(t *testing.T) {
	read := namesReadIn(t, "headers.go")
	for _, names := range quotaHeaderNames {
		for _, n := range append(names.anthropic[:], names.openAI[:]...) {
			read[n] = true
		}
	}
	if len(read) < 25 {
		t.Fatalf("found only %d names read in headers.go: %v", len(read), read)
	}
	for n := range read {
		if !rateLimitHeaderNames[n] {
			t.Errorf("headers.go reads %q, missing from rateLimitHeaderNames", n)
		}
		if !mayLimit(http.Header{"Content-Type": {"application/json"}, n: {"1"}, "Date": {"x"}}) {
			t.Errorf("mayLimit is false for a response with %q", n)
		}
	}
	for n := range rateLimitHeaderNames {
		if !read[n] {
			t.Errorf("rateLimitHeaderNames has %q, which headers.go does not read", n)
		}
	}
}

// Headers no parser reads, including some that look like the ones read,
// do not make mayLimit true: they would cost the parsing for nothing.
func TestMayLimitIgnoresOtherHeaders(t *testing.T) {
	for _, n := range []string{
		"Content-Type", "Content-Length", "Date", "Server", "X-Request-Id", "Anthropic-Organization-Id",
		"X-Ratelimit-Used", "X-Ratelimit-Resource", "Ratelimit-Used", "Retry-After-Seconds", "Retry",
		"X-Ratelimit", "Anthropic-Ratelimit-Unified-Status", "X-Should-Retry", "x-ratelimit-limit",
	} {
		if mayLimit(http.Header{n: {"1"}}) {
			t.Errorf("mayLimit is true for a response with only %q", n)
		}
	}
	if mayLimit(http.Header{}) || mayLimit(nil) {
		t.Error("mayLimit is true for no headers")
	}
}

// BenchmarkMayLimit is the check on every response a Transport sees, here
// with the headers of an API that says nothing about limits (those of
// bench/cmd/transportbench's server).
func BenchmarkMayLimit(b *testing.B) {
	h := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"11"}, "Date": {"Thu, 03 Dec 2026 10:00:00 GMT"}}
	for b.Loop() {
		if mayLimit(h) {
			b.Fatal("mayLimit is true")
		}
	}
}
