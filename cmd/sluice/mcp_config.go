package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/internal/mcp"
)

// The --config file of sluice mcp holds its flags by name, as YAML:
//
//	global-concurrency: 16
//	rate: 5/s
//	hosts:
//	  api.github.com: {rate: 1/s, concurrency: 2}
//
// Each value is given to the flag as if typed (so each is parsed and
// checked in one place, and each default is written once); flags on the
// command line win. hosts holds the HOST=VALUE forms of the per-host
// limit flags.

// hostFlags are the flags a host under hosts may set.
var hostFlags = []string{"concurrency", "rate", "window"}

// readFile sets, from the YAML file path, every flag the command line
// did not set; it remembers where each came from, for errors.
func (o *mcpOptions) readFile(f *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError("--config: %v", err)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return usageError("--config %s: %v", path, err)
	}
	o.fromFile = make(map[string]string)
	for _, doc := range file.Docs {
		if doc.Body == nil {
			continue
		}
		members, err := members(doc.Body)
		if err != nil {
			return usageError("%s, line %d: %v", path, line(doc.Body), err)
		}
		for _, mv := range members {
			name := keyOf(mv)
			where := fmt.Sprintf("%s, line %d", path, line(mv.Key))
			switch name {
			case "hosts":
				if err := o.readHosts(f, path, mv.Value); err != nil {
					return err
				}
				continue
			case "config", "help":
				return usageError("%s: %s cannot be set in the file", where, name)
			}
			flag := f.Lookup(name)
			if flag == nil {
				return usageError("%s: unknown field %q (want a flag of sluice mcp, such as rate or max-body, or hosts)", where, name)
			}
			if flag.Changed {
				continue // the command line wins
			}
			value, err := scalar(mv.Value)
			if err == nil {
				err = quotedNumber(mv.Value, flag.Value.Type())
			}
			if err != nil {
				return usageError("%s: %s: %v", where, name, err)
			}
			if err := f.Set(name, value); err != nil {
				return usageError("%s: %s %q: %v", where, name, value, err)
			}
			flag.Changed = false // set by the file, not the command line
			o.fromFile[name] = where
		}
	}
	return nil
}

// readHosts reads hosts: a mapping of host to a mapping of limit flags.
func (o *mcpOptions) readHosts(f *pflag.FlagSet, path string, n ast.Node) error {
	hosts, err := members(n)
	if err != nil {
		return usageError("%s, line %d: hosts: %v", path, line(n), err)
	}
	for _, h := range hosts {
		host := keyOf(h)
		limits, err := members(h.Value)
		if err != nil {
			return usageError("%s, line %d: hosts: %s: %v", path, line(h.Key), host, err)
		}
		// Read here for an error naming the line; the flag reads it again.
		key, err := mcp.HostName(host)
		if err != nil {
			return usageError("%s, line %d: hosts: %q: %v", path, line(h.Key), host, err)
		}
		for _, mv := range limits {
			name := keyOf(mv)
			where := fmt.Sprintf("%s, line %d", path, line(mv.Key))
			if !contains(hostFlags, name) {
				return usageError("%s: hosts: %s: unknown field %q (want %s)", where, host, name, strings.Join(hostFlags, ", "))
			}
			value, err := scalar(mv.Value)
			if err == nil && name == "concurrency" {
				err = quotedNumber(mv.Value, "int")
			}
			if err != nil {
				return usageError("%s: hosts: %s: %s: %v", where, host, name, err)
			}
			if pm, ok := f.Lookup(name).Value.(*perModel); ok {
				_, set := pm.models[key]
				if _, byFile := o.fromFile[name+" "+key]; set && !byFile {
					continue // the command line wins, in whatever spelling it named the host
				}
			}
			if err := f.Set(name, host+"="+value); err != nil {
				return usageError("%s: hosts: %s: %s %q: %v", where, host, name, value, err)
			}
			f.Lookup(name).Changed = false
			o.fromFile[name+" "+key] = where // as the flag's errors name it
		}
	}
	return nil
}

// blameFile adds to a usage error about a flag the file set where in the
// file it was set.
func (o *mcpOptions) blameFile(err error) error {
	var ee *exitError
	if len(o.fromFile) == 0 || !errors.As(err, &ee) || ee.err == nil {
		return err
	}
	msg := ee.err.Error()
	for _, oneHost := range []bool{true, false} { // a host's own value first: its message names the flag too
		for name, where := range o.fromFile {
			flag, host, _ := strings.Cut(name, " ")
			if (host != "") != oneHost || !strings.HasPrefix(msg, "--"+flag+" ") {
				continue
			}
			if host == "" || strings.Contains(msg, `"`+host+"=") {
				return &exitError{code: ee.code, err: fmt.Errorf("%w (set in %s)", ee.err, where)}
			}
		}
	}
	return err
}

func members(n ast.Node) ([]*ast.MappingValueNode, error) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, nil
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, nil
	}
	return nil, fmt.Errorf("want a mapping of fields, not %s", n.Type())
}

// quotedNumber refuses a quoted string where a number or a boolean is
// wanted (max-items: "3"), as the proxy's config does: YAML says what
// type a value is, and a quoted one was meant as text. kind is the flag's
// pflag type; rates, durations and sizes are written as strings anyway.
func quotedNumber(n ast.Node, kind string) error {
	if tk := n.GetToken(); n.Type() != ast.StringType || tk == nil ||
		tk.Type != token.DoubleQuoteType && tk.Type != token.SingleQuoteType {
		return nil // unquoted: the flag's own parsing judges it
	}
	switch kind {
	case "int", "int64", "uint", "uint64", "float64":
		return fmt.Errorf("want a number, not the string %s", n.String())
	case "bool":
		return fmt.Errorf("want true or false, not the string %s", n.String())
	}
	return nil
}

func scalar(n ast.Node) (string, error) {
	s, ok := n.(ast.ScalarNode)
	if !ok || n.Type() == ast.NullType {
		return "", fmt.Errorf("want a value, not %s", n.Type())
	}
	return fmt.Sprint(s.GetValue()), nil
}

func keyOf(mv *ast.MappingValueNode) string {
	if s, ok := mv.Key.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return mv.Key.String()
}

func line(n ast.Node) int {
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
