package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The tools read their arguments themselves rather than through the
// go-sdk's typed handlers, whose schema validation and unmarshaling speak
// Go to the model (`type: <invalid reflect.Value> has type "null"`,
// `json: cannot unmarshal number 1e300 into Go struct field …`). An
// argument that is wrong gets an error naming it and saying what it
// wants: "urls[3]: want a string, got null".

// addTool adds a tool whose input schema is In's (as the go-sdk infers
// it, then adjusted by schema when not nil) and output schema Report's;
// decode reads the arguments, h does the work.
func addTool[In any](s *sdk.Server, t *sdk.Tool, adjust func(*jsonschema.Schema), decode func(*args) In,
	h func(context.Context, *sdk.CallToolRequest, In) (*sdk.CallToolResult, Report, error)) {
	in, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: the input schema of %s: %v", t.Name, err))
	}
	singleTypes(in)
	if adjust != nil {
		adjust(in)
	}
	out, err := jsonschema.For[Report](nil)
	if err != nil {
		panic(fmt.Sprintf("mcp: the output schema of %s: %v", t.Name, err))
	}
	t.InputSchema, t.OutputSchema = in, out
	known := make([]string, 0, len(in.Properties))
	for name := range in.Properties {
		known = append(known, name)
	}
	sort.Strings(known)
	s.AddTool(t, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		a, err := parseArgs(req.Params.Arguments, known)
		var v In
		if err == nil {
			v = decode(a)
			err = a.err
		}
		if err != nil {
			res := &sdk.CallToolResult{}
			res.SetError(err)
			return res, nil
		}
		res, rep, err := h(ctx, req, v)
		if err != nil {
			var wire *jsonrpc.Error
			if errors.As(err, &wire) {
				return nil, wire
			}
			res = &sdk.CallToolResult{}
			res.SetError(err)
			return res, nil
		}
		res.StructuredContent = rep
		return res, nil
	})
}

// args are one tool call's arguments, read one by one; the first wrong
// one is kept in err and the rest are not read.
type args struct {
	m   map[string]json.RawMessage
	err error
}

// parseArgs reads raw as a JSON object of the known names.
func parseArgs(raw json.RawMessage, known []string) (*args, error) {
	a := &args{m: map[string]json.RawMessage{}}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return a, nil
	}
	if kindOf(raw) != "an object" {
		return nil, fmt.Errorf("arguments: want an object, got %s", kindOf(raw))
	}
	if err := json.Unmarshal(raw, &a.m); err != nil {
		return nil, fmt.Errorf("arguments: not JSON: %v", err)
	}
	for name := range a.m {
		if i := sort.SearchStrings(known, name); i == len(known) || known[i] != name {
			return nil, fmt.Errorf("%s: unknown argument; want %s", name, strings.Join(known, ", "))
		}
	}
	return a, nil
}

// get returns the argument name, nil when it is absent or null (which
// mean the same: the default).
func (a *args) get(name string) json.RawMessage {
	v, ok := a.m[name]
	if a.err != nil || !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	return v
}

func (a *args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = fmt.Errorf(format, v...)
	}
}

// required fails when name is absent.
func (a *args) required(name, what string) {
	if a.err == nil && a.get(name) == nil {
		a.fail("%s: required: %s", name, what)
	}
}

func (a *args) str(name string) string {
	return a.strAt(name, a.get(name))
}

func (a *args) strAt(where string, raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var s string
	if kindOf(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		a.fail("%s: want a string, got %s", where, kindOf(raw))
	}
	return s
}

// whole reads a whole number from 0 to most.
func (a *args) whole(name string, most int) int {
	raw := a.get(name)
	if raw == nil {
		return 0
	}
	var f float64
	if kindOf(raw) != "a number" || json.Unmarshal(raw, &f) != nil || f < 0 || f != math.Trunc(f) || f > float64(most) {
		a.fail("%s: want a whole number from 0 to %d, got %s", name, most, shown(raw))
	}
	return int(f)
}

func (a *args) number(name string) float64 {
	raw := a.get(name)
	if raw == nil {
		return 0
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		a.fail("%s: want a number, got %s", name, shown(raw))
	}
	return f
}

func (a *args) boolean(name string) bool {
	raw := a.get(name)
	if raw == nil {
		return false
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		a.fail("%s: want true or false, got %s", name, shown(raw))
	}
	return b
}

// list reads an array, each of whose elements read reads.
func (a *args) list(name string, read func(where string, raw json.RawMessage)) {
	raw := a.get(name)
	if raw == nil {
		return
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		a.fail("%s: want an array, got %s", name, kindOf(raw))
		return
	}
	for i, e := range elems {
		if a.err != nil {
			return
		}
		read(fmt.Sprintf("%s[%d]", name, i), e)
	}
}

// kindOf names the JSON type of raw for a message.
func kindOf(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return "a number"
}

// shown is raw itself when it is short and a number, or its kind.
func shown(raw json.RawMessage) string {
	if k := kindOf(raw); k != "a number" || len(raw) > 40 {
		return k
	}
	return string(bytes.TrimSpace(raw))
}

func decodeFetchMany(a *args) FetchManyInput {
	var in FetchManyInput
	a.list("urls", func(where string, raw json.RawMessage) {
		in.URLs = append(in.URLs, a.strAt(where, raw))
	})
	a.list("requests", func(where string, raw json.RawMessage) {
		in.Requests = append(in.Requests, a.request(where, raw))
	})
	in.PageSize = a.whole("page_size", maxPage)
	in.MaxLength = a.whole("max_length", maxMaxLength)
	in.TimeBudget = a.number("time_budget_seconds")
	in.Background = a.boolean("background")
	return in
}

// request reads one of fetch_many's requests; what its values mean is
// checked later, as sluice run's lines are.
func (a *args) request(where string, raw json.RawMessage) RequestInput {
	var r RequestInput
	var m map[string]json.RawMessage
	if kindOf(raw) != "an object" || json.Unmarshal(raw, &m) != nil {
		a.fail("%s: want an object {id, method, url, headers, body}, got %s", where, kindOf(raw))
		return r
	}
	for k, v := range m {
		switch k {
		case "id":
			json.Unmarshal(v, &r.ID) // a bad one makes an invalid item
		case "method":
			r.Method = a.strAt(where+".method", v)
		case "url":
			r.URL = a.strAt(where+".url", v)
		case "headers":
			if kindOf(v) != "an object" && kindOf(v) != "null" {
				a.fail("%s.headers: want an object of header names to strings, got %s", where, kindOf(v))
			}
			json.Unmarshal(v, &r.Headers)
		case "body":
			json.Unmarshal(v, &r.Body)
		default:
			a.fail("%s.%s: unknown field; want id, method, url, headers, body", where, k)
		}
	}
	return r // a missing url makes an invalid item, as a bad one does
}

func decodeGetResults(a *args) GetResultsInput {
	a.required("handle", "the handle fetch_many returned")
	return GetResultsInput{
		Handle: a.str("handle"), Offset: a.whole("offset", math.MaxInt32), Limit: a.whole("limit", maxPage),
		Filter: a.str("filter"), MaxLength: a.whole("max_length", maxMaxLength), StartIndex: a.whole("start_index", math.MaxInt32),
	}
}

func decodeCancel(a *args) CancelInput {
	a.required("handle", "the handle of the call to stop")
	return CancelInput{Handle: a.str("handle")}
}

// filterEnum lists get_results' filters in its schema.
// singleTypes gives each argument whose inferred type is "null or T" (Go
// slices and maps) the single type T. Absent already says "not given",
// and clients that turn command-line values into JSON by the schema's
// type (the MCP Inspector's CLI parses a value only for "array" or
// "object") or LLM tool validators that accept one type only could not
// pass urls or requests at all (outside review). The arguments' readers
// take null as absent all the same. Only input schemas: a Report's nil
// slice is encoded as null, which its schema must allow.
func singleTypes(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && s.Types[0] == "null" {
		s.Type, s.Types = s.Types[1], nil
	}
	for _, p := range s.Properties {
		singleTypes(p)
	}
	singleTypes(s.Items)
	singleTypes(s.AdditionalProperties)
}

func filterEnum(s *jsonschema.Schema) {
	if p := s.Properties["filter"]; p != nil {
		p.Enum = []any{"ok", "failed"}
	}
}
