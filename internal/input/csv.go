package input

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// The csv format: a header row naming the columns, then one request per
// record. The URL comes from Options.URL, a template, or else from the
// "url" column; the body from Options.Template; the id from the "id"
// column, or else the line the record starts on. Column names are the
// header's fields without surrounding space, matched exactly ("ID" is not
// "id"). Quoted fields may hold commas, quotes ("") and line breaks.
// Before the header, blank and comment lines are skipped; after it, blank
// lines are, and every other record must have as many fields as the
// header. A record that is not valid CSV or has the wrong number of
// fields, or is over MaxLine, is a bad line at the line it starts on, and
// reading resumes on the next line: a stray quote that ran on over the
// rows after it takes none of them with it. (A record over MaxLine is
// held up to MaxLine bytes, never whole: what was read of the lines
// after its first is put back, at most MaxLine bytes, and the rest is
// read on from where the cap was met.)

// FormatCSV is a header row, then one request per record.
const FormatCSV Format = "csv"

var csvFormat = format{
	name: FormatCSV,
	// A line with a comma that no other format claimed. (Without one, a
	// csv header is taken when --template, --url or --method is given.)
	detect:  func(l *firstLine) bool { return bytes.IndexByte(l.text, ',') >= 0 },
	records: func(r *Reader) (recordReader, error) { return newCSVInput(r, r.csvTemplates) },
	shape:   httpShape{},
}

// csvTemplates are the csv options, parsed.
type csvTemplates struct {
	body   *template.Template // nil: no body
	json   bool               // the body template is JSON: its output must be too
	url    *template.Template // nil: the "url" column
	method string             // "" for the default
	idName string             // the id column: Options.IDColumn, or "id"
	idSet  bool               // IDColumn was given: the header must have it
}

// csvFuncs are the functions templates may call besides text/template's.
var csvFuncs = template.FuncMap{
	// json quotes a value as a JSON string, for bodies such as
	// {"messages": [{"role": "user", "content": {{json .prompt}}}]}.
	"json": func(v any) (string, error) {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	// pathescape escapes a value as one path segment of a --url, such
	// as https://api.example.com/items/{{pathescape .name}}: a "/", "?",
	// "#" or ".." in a cell would otherwise change the resource asked.
	"pathescape": url.PathEscape,
}

// parseCSVTemplates checks and parses the csv options of opts.
func parseCSVTemplates(opts Options) (csvTemplates, error) {
	t := csvTemplates{idName: "id"}
	if opts.IDColumn != "" {
		t.idName, t.idSet = opts.IDColumn, true
	}
	if opts.Method != "" {
		m, reason := checkMethod(opts.Method)
		if reason != "" {
			return t, fmt.Errorf("input: --method: %s", reason)
		}
		t.method = m
	}
	var err error
	if opts.Template != "" {
		if t.body, err = template.New("body").Option("missingkey=error").Funcs(csvFuncs).Parse(opts.Template); err != nil {
			return t, fmt.Errorf("input: --template: %s", strings.TrimPrefix(err.Error(), "template: "))
		}
		t.json = looksLikeJSON(t.body)
	}
	if opts.URL != "" {
		if t.url, err = template.New("url").Option("missingkey=error").Funcs(csvFuncs).Parse(opts.URL); err != nil {
			return t, fmt.Errorf("input: --url: %s", strings.TrimPrefix(err.Error(), "template: "))
		}
	}
	return t, nil
}

// csvInput reads the records of a csv input after its header.
type csvInput struct {
	r       *Reader
	columns []string // the header's names, trimmed
	idCol   int      // index of the "id" column, -1 without one
	urlCol  int      // index of the "url" column, -1 without one
	csvTemplates
	// metaCols are the indexes of the columns carried as metadata: those
	// the request does not use (not id, not url when it gives the URL, not
	// named by the templates).
	metaCols []int

	// One bufio.Reader serves every record: csv.NewReader uses a
	// *bufio.Reader it is given rather than allocating 4 KiB a record.
	rec    bytes.Reader
	recBuf *bufio.Reader
	out    bytes.Buffer // template output
}

// newCSVInput reads the header of r's input and checks that t can build
// requests from its columns.
func newCSVInput(r *Reader, t csvTemplates) (*csvInput, error) {
	c := &csvInput{r: r, idCol: -1, urlCol: -1, csvTemplates: t}
	c.recBuf = bufio.NewReader(&c.rec)
	for {
		rec, start, over, err := r.lines.nextRecord()
		switch {
		case err == io.EOF:
			return nil, errors.New("input: the csv input has no header row")
		case err != nil:
			return nil, fmt.Errorf("input: reading the csv header: %w", err)
		case over:
			return nil, fmt.Errorf("input: the csv header (line %d) is over the %s cap", start, r.maxStr)
		}
		if t := bytes.TrimSpace(rec); len(t) == 0 || t[0] == '#' {
			continue
		}
		if reason := checkUTF8(rec); reason != "" {
			return nil, fmt.Errorf("input: the csv header (line %d): %s", start, reason)
		}
		fields, reason := c.fields(rec, start)
		if reason != "" {
			return nil, fmt.Errorf("input: the csv header (line %d): %s", start, reason)
		}
		if err := c.setColumns(fields); err != nil {
			return nil, err
		}
		return c, nil
	}
}

// setColumns takes the header's fields as the column names and checks
// that the options can build a request from them.
func (c *csvInput) setColumns(fields []string) error {
	have := make(map[string]bool, len(fields))
	for i, f := range fields {
		name := strings.TrimSpace(f)
		if name != "" && have[name] {
			return fmt.Errorf("input: the csv header names column %s twice", quoteInput(name))
		}
		have[name] = true
		c.columns = append(c.columns, name)
		if name == c.idColumn() {
			c.idCol = i
		}
		if name == "url" {
			c.urlCol = i
		}
	}
	if c.idSet && c.idCol < 0 {
		return fmt.Errorf("input: --id-column %s: the csv header has no such column (columns: %s)", quoteInput(c.idName), strings.Join(c.columns, ", "))
	}
	if c.url == nil && c.urlCol < 0 {
		return fmt.Errorf(`input: csv input needs --url or a "url" column (columns: %s)`, strings.Join(c.columns, ", "))
	}
	for _, t := range []struct {
		flag string
		tmpl *template.Template
	}{{"--template", c.body}, {"--url", c.url}} {
		if t.tmpl == nil {
			continue
		}
		if col, ok := missingColumn(t.tmpl, have); !ok {
			return fmt.Errorf("input: %s uses column %s, which the csv header lacks (columns: %s)",
				t.flag, quoteInput(col), strings.Join(c.columns, ", "))
		}
	}
	if c.method == "" {
		c.method = "GET"
		if c.body != nil {
			c.method = "POST"
		}
	}
	c.setMetaColumns()
	return nil
}

// setMetaColumns picks the columns carried into results as metadata
// (issue 10, item 13): those the request does not use.
func (c *csvInput) setMetaColumns() {
	used := map[string]bool{"": true, "id": true}
	if c.url == nil {
		used["url"] = true
	}
	for _, t := range []*template.Template{c.body, c.url} {
		if t != nil {
			for _, col := range templateColumns(t) {
				used[col] = true
			}
		}
	}
	for i, name := range c.columns {
		if !used[name] {
			c.metaCols = append(c.metaCols, i)
		}
	}
}

// metadata returns the metadata object of a record: its unused columns,
// as strings, in header order; nil when there are none.
func (c *csvInput) metadata(fields []string) json.RawMessage {
	if len(c.metaCols) == 0 {
		return nil
	}
	b := []byte{'{'}
	for k, i := range c.metaCols {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.columns[i])
		b = append(b, ':')
		b = appendJSONString(b, fields[i])
	}
	return append(b, '}')
}

// next returns the next record's item, or why it cannot be run.
func (c *csvInput) next() (Item, *BadLine, error) {
	for {
		rec, start, over, err := c.r.lines.nextRecord()
		switch {
		case err != nil:
			return Item{}, nil, err
		case over:
			return Item{}, c.overCap(start), nil
		case len(bytes.TrimSpace(rec)) == 0:
			continue
		}
		fields, reason := c.fields(rec, start)
		if reason == "" && len(fields) != len(c.columns) {
			reason = fmt.Sprintf("record has %d fields, the header %d", len(fields), len(c.columns))
		}
		if reason != "" {
			// A record that is not valid CSV, or has the wrong number
			// of fields, may run over many lines only because of a
			// stray quote: it is reported as its first line, and the
			// lines after it are read again, so that none is lost.
			if c.r.lines.resumeAfter(rec, start) {
				reason += fmt.Sprintf("; the quoted field opened at line %d, column %d runs on over the lines after it, which are read again from line %d",
					start, openQuoteColumn(rec), start+1)
			}
			return Item{}, &BadLine{Line: start, Reason: reason}, nil
		}
		if reason := checkUTF8(rec); reason != "" {
			return Item{}, &BadLine{Line: start, Reason: reason}, nil
		}
		it, reason := c.item(fields, start)
		if reason != "" {
			return Item{}, &BadLine{Line: start, Reason: reason, ID: it.ID}, nil
		}
		return it, nil, nil
	}
}

// overCap is the bad line of a record, starting on line start, longer
// than MaxLine. As for a record that is not valid CSV (next), the lines
// after its first are read again, so that a stray quote running on past
// the cap takes no valid row with it.
func (c *csvInput) overCap(start int) *BadLine {
	bad := c.r.overCap(start, "record")
	if col := c.r.lines.overQuote; col > 0 {
		bad.Reason += fmt.Sprintf(": the quoted field opened at line %d, column %d runs on past it (a stray quote?); the lines after line %d are read again from line %d",
			start, col, start, start+1)
	}
	return bad
}

// fields parses one record, starting on line start, with encoding/csv.
func (c *csvInput) fields(rec []byte, start int) ([]string, string) {
	c.rec.Reset(rec)
	c.recBuf.Reset(&c.rec)
	cr := csv.NewReader(c.recBuf)
	cr.FieldsPerRecord = -1
	fields, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Sprintf("invalid CSV: %v (line %d, column %d)", pe.Err, start+pe.Line-1, pe.Column)
		}
		return nil, "invalid CSV: " + err.Error() // cannot happen: the record is not blank
	}
	return fields, ""
}

// openQuoteColumn is the column (a 1-based byte index, as in
// csv.ParseError) of the quote that opens the field still open at the end
// of rec's first line; 0 when none is.
func openQuoteColumn(rec []byte) int {
	open := 0
	st := csvFieldStart
	for i, c := range rec {
		if c == '\n' {
			break
		}
		if st == csvFieldStart && c == '"' {
			open = i + 1
		}
		st = st.scan(rec[i : i+1])
	}
	if st != csvQuoted {
		return 0
	}
	return open
}

// idColumn is the name of the id column.
func (c *csvInput) idColumn() string {
	if c.idName == "" {
		return "id" // csvTemplates made without parseCSVTemplates
	}
	return c.idName
}

// item builds the request of a record whose fields match the header.
func (c *csvInput) item(fields []string, start int) (Item, string) {
	it := Item{Line: start, Method: c.method, ID: strconv.Itoa(start), NumberID: c.idCol < 0, Metadata: c.metadata(fields)}
	if c.idCol >= 0 {
		if it.ID = fields[c.idCol]; it.ID == "" {
			return Item{}, "empty " + strconv.Quote(c.idColumn()) + " column"
		}
	}
	// Past the id, a bad row's errors line names it: the id column is
	// read whatever the template or the URL make of the rest.
	bad := func(reason string) (Item, string) {
		if c.idCol >= 0 {
			return Item{ID: it.ID}, reason
		}
		return Item{}, reason
	}
	var row map[string]string
	if c.body != nil || c.url != nil {
		row = make(map[string]string, len(fields))
		for i, name := range c.columns {
			if name != "" {
				row[name] = fields[i]
			}
		}
	}
	var u string
	if c.url != nil {
		if err := c.execute(c.url, row); err != nil {
			return bad("--url: " + err.Error())
		}
		if u = strings.TrimSpace(c.out.String()); u == "" {
			return bad("--url made an empty URL")
		}
	} else if u = strings.TrimSpace(fields[c.urlCol]); u == "" {
		return bad(`empty "url" column`)
	}
	var reason string
	if it.URL, it.parsedURL, reason = resolveURL(u, c.r.base); reason != "" {
		return bad(reason)
	}
	if c.body != nil {
		if err := c.execute(c.body, row); err != nil {
			return bad("--template: " + err.Error())
		}
		if c.json && !json.Valid(c.out.Bytes()) {
			// A value holding a quote or a newline, put in as {{.col}},
			// breaks the JSON around it; sent as text it would fail at
			// the API, item after item.
			return bad("--template made invalid JSON: " + jsonQuoteHint(c.body))
		}
		it.Body = bytes.Clone(c.out.Bytes())
		if it.Body == nil {
			it.Body = []byte{}
		}
	}
	return it, ""
}

// execute runs t on row into c.out. Its error names the template, the
// place and, through text/template's message, the column.
func (c *csvInput) execute(t *template.Template, row map[string]string) error {
	c.out.Reset()
	if err := t.Execute(&c.out, row); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return nil
}

// missingColumn returns a column that t refers to as .name (where dot is
// the record) or $.name and that have lacks. Inside range and with, dot is
// something else and .name is not checked; nor are templates that t
// defines. Whatever escapes this check fails at execution instead, as a
// bad line, since the templates run with missingkey=error.
func missingColumn(t *template.Template, have map[string]bool) (string, bool) {
	for _, col := range templateColumns(t) {
		if !have[col] {
			return col, false
		}
	}
	return "", true
}

// templateColumns returns the columns t refers to as .name (where dot is
// the record) or $.name, in the order written; see missingColumn for what
// it cannot see.
func templateColumns(t *template.Template) []string {
	var missing []string
	var walk func(n parse.Node, dot bool)
	walkList := func(l *parse.ListNode, dot bool) {
		if l != nil {
			for _, n := range l.Nodes {
				walk(n, dot)
			}
		}
	}
	walkPipe := func(p *parse.PipeNode, dot bool) {
		if p != nil {
			for _, cmd := range p.Cmds {
				for _, arg := range cmd.Args {
					walk(arg, dot)
				}
			}
		}
	}
	walk = func(n parse.Node, dot bool) {
		switch n := n.(type) {
		case *parse.ActionNode:
			walkPipe(n.Pipe, dot)
		case *parse.PipeNode:
			walkPipe(n, dot)
		case *parse.ChainNode:
			walk(n.Node, dot)
		case *parse.FieldNode:
			if dot {
				missing = append(missing, n.Ident[0])
			}
		case *parse.VariableNode:
			if n.Ident[0] == "$" && len(n.Ident) > 1 {
				missing = append(missing, n.Ident[1])
			}
		case *parse.IfNode:
			walkPipe(n.Pipe, dot)
			walkList(n.List, dot)
			walkList(n.ElseList, dot)
		case *parse.RangeNode:
			walkPipe(n.Pipe, dot)
			walkList(n.List, false)
			walkList(n.ElseList, dot)
		case *parse.WithNode:
			walkPipe(n.Pipe, dot)
			walkList(n.List, false)
			walkList(n.ElseList, dot)
		case *parse.TemplateNode:
			walkPipe(n.Pipe, dot)
		}
	}
	if t.Tree != nil {
		walkList(t.Tree.Root, true)
	}
	return missing
}

// looksLikeJSON reports whether a body template is meant to make JSON: its
// text, before any action, starts an object or an array.
func looksLikeJSON(t *template.Template) bool {
	if t.Tree == nil || t.Root == nil || len(t.Root.Nodes) == 0 {
		return false
	}
	text, ok := t.Root.Nodes[0].(*parse.TextNode)
	if !ok {
		return false
	}
	s := strings.TrimSpace(string(text.Text))
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}

// jsonQuoteHint says how to put values into a JSON template, naming a
// column the template inserts unquoted when there is one.
func jsonQuoteHint(t *template.Template) string {
	for _, col := range templateColumns(t) {
		if !strings.Contains(t.Root.String(), "json ."+col) {
			return fmt.Sprintf("write {{json .%s}} to put the column in as a JSON string", col)
		}
	}
	return "write {{json .column}} to put a column in as a JSON string"
}
