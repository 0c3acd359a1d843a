package batch_test

// End-to-end tests of what a run refuses before or instead of sending:
// the dry run, bad input lines, and usage errors.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/mock"
)

func TestRunDryRunSendsNothing(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 31})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "plan.jsonl", strings.Join([]string{
		`{"id": "a", "url": "` + srv.URL() + `/a"}`,
		`{"id": "b", "url":`,
		`{"id": "c", "url": "/c"}`,
		`{"id": "d", "method": "BREW", "url": "/d"}`,
		`{"id": "a", "url": "/a-again"}`,
		`{"id": "e", "url": "gopher://127.0.0.1/e"}`,
		`{"id": "f", "url": "/f"}`,
	}, "\n")+"\n")
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL(), DryRun: true, Limits: sluice.Limits{Rate: sluice.Rate{N: 1, Per: 1e9}}})
	if o.err != nil || o.code != 1 {
		t.Fatalf("dry run: exit %d, %v; want 1 (bad lines)\n%s", o.code, o.err, o.stderr)
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("a dry run sent %d requests", st.Requests)
	}
	e2eCheckSummary(t, o.sum, 3, 0, 0, 0, 4)
	for _, want := range []string{
		in + ": http input, 3 items to run, 4 bad lines",
		"least time at the given limits: 3s",
		"dry run: nothing was sent",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, o.stdout)
		}
	}
	for _, want := range []string{
		in + ": line 2: invalid JSON",
		in + `: line 4: unsupported method "BREW"`,
		in + `: line 5: repeated id "a" (first on line 1)`,
		in + `: line 6: unsupported URL scheme "gopher"`,
	} {
		if !strings.Contains(o.stderr, want) {
			t.Errorf("stderr does not report %q:\n%s", want, o.stderr)
		}
	}
	if n := strings.Count(o.stderr, "\n"); n != 4 {
		t.Errorf("stderr has %d lines, want one per bad line (4):\n%s", n, o.stderr)
	}
	for _, f := range []string{"plan.results.jsonl", "plan.errors.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a dry run made %s (%v)", f, err)
		}
	}
}

// A dry run of a batch file with --api needs no key and estimates tokens:
// input from the text, output at most max_tokens.
func TestRunDryRunEstimatesTokens(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 32})
	dir := t.TempDir()
	var in strings.Builder
	var wantIn, wantOut int
	for i := range 30 {
		line := e2eChat(fmt.Sprintf("d%d", i), 10+i)
		in.WriteString(line + "\n")
		body := line[strings.Index(line, `"body": `)+len(`"body": `) : len(line)-1]
		c := batch.EstimateCost("/v1/chat/completions", []byte(body))
		wantIn += c.InputTokens
		wantOut += c.OutputTokens
	}
	if wantOut != 30*10+29*30/2 {
		t.Fatalf("the estimate's output is %d, want the sum of max_tokens", wantOut)
	}
	path := e2eWrite(t, dir, "batch.jsonl", in.String())
	tokens, err := sluice.ParseRate("1000/m")
	if err != nil {
		t.Fatal(err)
	}
	o := e2eRun(t, batch.Config{Input: path, API: "openai", BaseURL: srv.URL(), DryRun: true, Limits: sluice.Limits{Tokens: tokens}})
	if o.err != nil || o.code != 0 {
		t.Fatalf("dry run: exit %d, %v\n%s", o.code, o.err, o.stderr)
	}
	if want := fmt.Sprintf("estimated tokens: %d input, %d output (at most)", wantIn, wantOut); !strings.Contains(o.stdout, want) {
		t.Errorf("stdout does not say %q:\n%s", want, o.stdout)
	}
	if want := path + ": openai input, 30 items to run, 0 bad lines"; !strings.Contains(o.stdout, want) {
		t.Errorf("stdout does not say %q:\n%s", want, o.stdout)
	}
	if srv.Stats().Requests != 0 {
		t.Errorf("a dry run sent requests")
	}
}

// e2eBadCase is a bad line and the reason the run must give for it.
type e2eBadCase struct {
	line, reason string
}

// e2eGood is a line that runs, and its id.
type e2eGood struct{ id, line string }

// e2eBadInput writes good and bad lines alternately (good first, so the
// first good line is line 1), runs them, and checks that every bad line is
// reported with its number and reason, that the good ones run, and that
// the exit code is 1.
func e2eBadInput(t *testing.T, cfg batch.Config, srv *mock.Server, idKey string, goods []e2eGood, bad []e2eBadCase) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	var goodIDs []string
	want := map[int]string{}
	n := 0
	for i := 0; i < len(bad) || len(goods) > 0; i++ {
		if len(goods) > 0 {
			b.WriteString(goods[0].line + "\n")
			n++
			goodIDs = append(goodIDs, goods[0].id)
			goods = goods[1:]
		}
		if i < len(bad) {
			b.WriteString(bad[i].line + "\n")
			n++
			want[n] = bad[i].reason
		}
	}
	cfg.Input = e2eWrite(t, dir, "input.txt", b.String())
	o := e2eRun(t, cfg)
	if o.err != nil || o.code != 1 {
		t.Fatalf("Run: exit %d, %v; want 1\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, len(goodIDs), 0, len(goodIDs), 0, len(bad))
	for line, reason := range want {
		if w := fmt.Sprintf("%s: line %d: %s", cfg.Input, line, reason); !strings.Contains(o.stderr, w) {
			t.Errorf("stderr does not report %q", w)
		}
	}
	if got := strings.Count(o.stderr, "\n") - 1; got != len(bad) { // less the start line
		t.Errorf("stderr has %d lines, want %d:\n%s", got, len(bad), o.stderr)
	}
	if st := srv.Stats(); st.Requests != int64(len(goodIDs)) {
		t.Errorf("mock saw %d requests, want %d", st.Requests, len(goodIDs))
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), idKey), goodIDs)
	// Each bad line is in the errors file too, in the format's shape, with
	// its number and reason (issue 10, item 8), and counts as bad, not
	// failed (checked by the summary above).
	errs := e2eLinesIfAny(t, o.sum.Errors)
	if len(errs) != len(bad) {
		t.Fatalf("errors file has %d lines, want one per bad line (%d)", len(errs), len(bad))
	}
	for _, l := range e2eLines(t, o.sum.Errors) {
		class, line, msg := e2eFailureOf(t, l)
		if class != "bad_line" || want[line] == "" || !strings.Contains(msg, want[line]) {
			t.Errorf("errors line: class %q, line %d, message %q; want bad_line, a bad line's number and reason", class, line, msg)
		}
		// A repeated id is named by the errors line, but not as its id:
		// the first line with it ran, and a reader of the errors file
		// keyed by id must not see that id failed. Its id is null, as a
		// bad line's whose id could not be read, and "repeated_id" (in
		// the "sluice" member for the batch shapes) names it.
		if rest, ok := strings.CutPrefix(want[line], "repeated id "); ok {
			id, _ := strconv.Unquote(rest[:strings.IndexByte(rest, ' ')])
			m := l
			if s, ok := l["sluice"]; ok {
				m = e2eObject(t, s)
			}
			if got := string(l[idKey]); got != "null" {
				t.Errorf("errors line %v: %s %s; want null for a repeated id", l, idKey, got)
			}
			if got := e2eString(t, m["repeated_id"]); got != id {
				t.Errorf("errors line %v: repeated_id %q; want %q", l, got, id)
			}
		}
	}
}

func TestRunBadHTTPLines(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 33})
	u := srv.URL()
	big := `{"id": "big", "url": "` + u + `/big", "body": "` + strings.Repeat("x", 10<<20) + `"}`
	var good []e2eGood
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5", "g6"} {
		good = append(good, e2eGood{id, `{"id": "` + id + `", "url": "` + u + `/` + id + `"}`})
	}
	e2eBadInput(t, batch.Config{Format: input.FormatHTTP}, srv, "id", good, []e2eBadCase{
		{`{"id": "j", "url": "` + u + `/j"`, "invalid JSON"},
		{`[1, 2]`, "not a JSON object but an array"},
		{`{"id": "no-url"}`, "missing url"},
		{`{"id": "m", "method": "FETCH", "url": "` + u + `/m"}`, `unsupported method "FETCH"`},
		{`{"id": "m2", "method": "GE T", "url": "` + u + `/m2"}`, `bad method "GE T": not an HTTP token`},
		{`{"id": "rel", "url": "/relative"}`, `relative URL "/relative" needs --base-url`},
		{`{"id": "ftp", "url": "ftp://127.0.0.1/x"}`, `unsupported URL scheme "ftp"`},
		{`{"id": "file", "url": "file:///etc/passwd"}`, `unsupported URL scheme "file"`},
		{"{\"id\": \"u\xff\", \"url\": \"" + u + "/u\"}", "invalid UTF-8 at byte 10"},
		{big, "line over the 10 MiB cap"},
		{`{"id": "g1", "url": "` + u + `/g1-again"}`, `repeated id "g1" (first on line 1)`},
		{`{"id": "", "url": "` + u + `/e"}`, "empty id"},
		{`{"id": "h", "url": "` + u + `/h", "headers": {"X": 1}}`, "headers must be an object of strings"},
		{`{"id": "k", "url": "` + u + `/k", "header": {}}`, `unknown field "header"`},
	})
}

func TestRunBadOpenAILines(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.OpenAI, Seed: 34})
	var good []e2eGood
	for _, id := range []string{"o1", "o2", "o3"} {
		good = append(good, e2eGood{id, e2eChat(id, 10)})
	}
	e2eBadInput(t, batch.Config{Format: input.FormatOpenAI, BaseURL: srv.URL()}, srv, "custom_id", good, []e2eBadCase{
		{`{"method": "POST", "url": "/v1/chat/completions", "body": {}}`, "missing custom_id"},
		{`{"custom_id": 7, "url": "/v1/chat/completions", "body": {}}`, "custom_id must be a string"},
		{`{"custom_id": "get", "method": "GET", "url": "/v1/chat/completions", "body": {}}`, `method "GET": OpenAI batch requests must be POST`},
		{`{"custom_id": "abs", "url": "http://127.0.0.1/v1/chat/completions", "body": {}}`, `url "http://127.0.0.1/v1/chat/completions" must be a path starting with "/"`},
		{`{"custom_id": "nobody", "url": "/v1/chat/completions"}`, "missing body"},
		{`{"custom_id": "o1", "url": "/v1/chat/completions", "body": {}}`, `repeated id "o1" (first on line 1)`},
	})
}

func TestRunBadAnthropicLines(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 35})
	var good []e2eGood
	for _, id := range []string{"a1", "a2"} {
		good = append(good, e2eGood{id, e2eMessage(id, 10)})
	}
	e2eBadInput(t, batch.Config{Format: input.FormatAnthropic, BaseURL: srv.URL()}, srv, "custom_id", good, []e2eBadCase{
		{`{"params": {"model": "m"}}`, "missing custom_id"},
		{`{"custom_id": "", "params": {}}`, "empty custom_id"},
		{`{"custom_id": "p", "params": [1]}`, "params must be a JSON object"},
		{`{"custom_id": "p2"}`, "missing params"},
	})
}

func TestRunBadURLLines(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 36})
	u := srv.URL()
	e2eBadInput(t, batch.Config{Format: input.FormatURLs}, srv, "id", []e2eGood{{u + "/one", u + "/one"}, {u + "/three", u + "/three"}}, []e2eBadCase{
		{"/relative", `relative URL "/relative" needs --base-url`},
		{"mailto:someone@example.com", `unsupported URL scheme "mailto"`},
	})
}

func TestRunBadCSVRecords(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 37})
	dir := t.TempDir()
	in := e2eWrite(t, dir, "rows.csv", "id,path\nr1,/ok1\nr2\nr3,/ok3,extra\n,/noid\nr5,\"/bad\"quote\"\nr6,/ok6\nr1,/again\n")
	o := e2eRun(t, batch.Config{Input: in, BaseURL: srv.URL(), URL: "{{.path}}"})
	if o.err != nil || o.code != 1 {
		t.Fatalf("Run: exit %d, %v; want 1\n%s", o.code, o.err, o.stderr)
	}
	e2eCheckSummary(t, o.sum, 2, 0, 2, 0, 5)
	for _, want := range []string{
		"line 3: record has 1 fields, the header 2",
		"line 4: record has 3 fields, the header 2",
		`line 5: empty "id" column`,
		"line 6: invalid CSV",
		`line 8: repeated id "r1" (first on line 2)`,
	} {
		if !strings.Contains(o.stderr, in+": "+want) {
			t.Errorf("stderr does not report %q:\n%s", want, o.stderr)
		}
	}
	e2eSameSet(t, "results", e2eIDs(t, e2eLines(t, o.sum.Results), "id"), []string{"r1", "r6"})
}

// Usage errors exit 2 and send nothing.
func TestRunUsageErrors(t *testing.T) {
	srv := e2eMock(t, mock.Config{Style: mock.Anthropic, Seed: 38})
	dir := t.TempDir()
	anthropic := e2eWrite(t, dir, "messages.jsonl", e2eMessage("a", 10)+"\n")
	httpIn := e2eWrite(t, dir, "calls.jsonl", `{"id": "h", "url": "`+srv.URL()+`/v1/messages"}`+"\n")
	csvIn := e2eWrite(t, dir, "rows.csv", "id,url\nx,"+srv.URL()+"/v1/messages\n")
	key := e2eEnv("ANTHROPIC_API_KEY", "sk-ant")
	tests := []struct {
		name string
		cfg  batch.Config
		want string // in the error
	}{
		{"no input", batch.Config{}, "no input"},
		{"missing file", batch.Config{Input: filepath.Join(dir, "nope.jsonl")}, "no such file"},
		{"directory", batch.Config{Input: dir}, "is a directory"},
		{"stdin without reader", batch.Config{Input: "-"}, "standard input"},
		{"stdin that fails", batch.Config{Input: "-", Stdin: iotest.ErrReader(errors.New("broken pipe"))}, "broken pipe"},
		{"bad format", batch.Config{Input: httpIn, Format: "xml"}, "unknown input format"},
		{"anthropic without key", batch.Config{Input: anthropic, API: "anthropic", BaseURL: srv.URL()}, "ANTHROPIC_API_KEY is not set"},
		{"openai without key", batch.Config{Input: httpIn, API: "openai", BaseURL: srv.URL()}, "OPENAI_API_KEY is not set"},
		{"unknown api", batch.Config{Input: httpIn, API: "cohere", Getenv: key}, "--api"},
		{"bad header", batch.Config{Input: httpIn, Headers: []string{"NoColon"}}, "-H"},
		{"batch format without base", batch.Config{Input: anthropic}, "needs a base URL"},
		{"bad base URL", batch.Config{Input: httpIn, BaseURL: "ftp://127.0.0.1"}, "base URL"},
		{"template column missing", batch.Config{Input: csvIn, Template: "{{.prompt}}"}, `column "prompt"`},
		{"template on json input", batch.Config{Input: httpIn, Template: "{}", Format: input.FormatHTTP}, "--template"},
		{"bad template", batch.Config{Input: csvIn, Template: "{{"}, "--template"},
		{"bad csv method", batch.Config{Input: csvIn, Method: "BREW"}, "--method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Getenv == nil {
				tt.cfg.Getenv = e2eEnv()
			}
			o := e2eRun(t, tt.cfg)
			if o.code != 2 || !errors.Is(o.err, batch.ErrUsage) {
				t.Errorf("exit %d, %v; want 2, a usage error", o.code, o.err)
			}
			if o.err != nil && !strings.Contains(o.err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", o.err, tt.want)
			}
		})
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("usage errors sent %d requests", st.Requests)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".results.") || strings.Contains(e.Name(), ".errors.") {
			t.Errorf("a usage error left %s behind", e.Name())
		}
	}
}

// An input that cannot be read is an input error (exit 2, nothing sent),
// whether or not the format had to be detected from it.
func TestRunUnreadableInputWithFormat(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 39})
	dir := t.TempDir()
	sub := filepath.Join(dir, "input.d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []batch.Config{
		{Input: sub, Format: input.FormatHTTP, BaseURL: srv.URL()},
		{Input: "-", Stdin: iotest.ErrReader(errors.New("broken pipe")), Format: input.FormatURLs, Out: filepath.Join(dir, "stdin.results.jsonl")},
	} {
		o := e2eRun(t, cfg)
		if o.code != 2 {
			t.Errorf("%s with --format %s: exit %d (%v), want 2: an unreadable input is an input error and nothing was sent", cfg.Input, cfg.Format, o.code, o.err)
		}
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("sent %d requests", st.Requests)
	}
}

// A redirect is not followed: the item fails, and the errors file must
// not call that failure "ok".
func TestRunRedirectIsAFailureNotOK(t *testing.T) {
	srv := e2eRedirector(t)
	dir := t.TempDir()
	o := e2eRun(t, batch.Config{Input: e2eHTTPFile(t, dir, []string{"a"}), BaseURL: srv})
	if o.code != 1 || o.err != nil {
		t.Fatalf("exit %d, %v; want 1", o.code, o.err)
	}
	e2eCheckSummary(t, o.sum, 1, 0, 0, 1, 0)
	errs := e2eLines(t, o.sum.Errors)
	if len(errs) != 1 {
		t.Fatalf("errors file has %d lines, want 1", len(errs))
	}
	if status, class := e2eInt(t, errs[0]["status"]), e2eString(t, errs[0]["class"]); status != 302 || class == "ok" {
		t.Errorf("a 302 is recorded as status %d, class %q; want 302 with a failure's class (fatal)", status, class)
	}
}

// A host that refuses connections fails the item as transient, with the
// reason, when retries are off.
func TestRunConnectionRefused(t *testing.T) {
	dir := t.TempDir()
	in := e2eWrite(t, dir, "in.txt", "http://127.0.0.1:1/nothing-listens-here\n")
	o := e2eRun(t, batch.Config{Input: in, Retries: -1})
	if o.code != 1 || o.err != nil {
		t.Fatalf("exit %d, %v; want 1", o.code, o.err)
	}
	e2eCheckSummary(t, o.sum, 1, 0, 0, 1, 0)
	errs := e2eLines(t, o.sum.Errors)
	if len(errs) != 1 {
		t.Fatalf("errors file has %d lines, want 1", len(errs))
	}
	if c, m := e2eString(t, errs[0]["class"]), e2eString(t, errs[0]["message"]); c != "transient" || !strings.Contains(m, "refused") {
		t.Errorf("class %q, message %q; want transient, connection refused", c, m)
	}
}

// An input with nothing to run succeeds at once.
func TestRunEmptyInput(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty.txt": "", "comments.jsonl": "# nothing\n\n# here\n"} {
		o := e2eRun(t, batch.Config{Input: e2eWrite(t, dir, name, content)})
		if o.code != 0 || o.err != nil || o.sum.Items != 0 || o.sum.BadLines != 0 {
			t.Errorf("%s: exit %d, %v, %d items, %d bad; want 0, nil, 0, 0", name, o.code, o.err, o.sum.Items, o.sum.BadLines)
		}
	}
}

// -o naming the input itself would read the requests as results (every
// item "done before") and append results to the input: a usage error.
func TestRunRefusesTheInputAsResultsFile(t *testing.T) {
	srv := e2eMock(t, mock.Config{Seed: 40})
	dir := t.TempDir()
	in := e2eHTTPFile(t, dir, []string{"a", "b"})
	before, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	o := e2eRun(t, batch.Config{Input: in, Out: in, BaseURL: srv.URL()})
	if o.code != 2 {
		t.Errorf("-o the input: exit %d (%v), %d items, %d skipped as done; want 2, a usage error", o.code, o.err, o.sum.Items, o.sum.Resumed)
	}
	if after, _ := os.ReadFile(in); string(after) != string(before) {
		t.Errorf("the input file was changed:\n%s", after)
	}
}
