package proxy

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/sluicehq/sluice/internal/bytesize"
)

// The configReader's reading of the YAML syntax tree: mappings (with
// aliases and merge keys resolved), lists and scalars, each failing with
// the node's line and the field's path.

// keyValue is one member of a mapping.
type keyValue struct {
	key            string
	keyNode, value ast.Node
}

// mapping returns the members of the mapping n, aliases and merge keys
// (<<: *defaults) resolved, refusing a key given twice.
func (c *configReader) mapping(n ast.Node, field string, seen map[string]int) ([]keyValue, error) {
	n, err := c.resolve(n, field)
	if err != nil {
		return nil, err
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		if mv, single := n.(*ast.MappingValueNode); single {
			m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
		} else {
			return nil, c.fail(n, field, "want a mapping of fields, not %s", kind(n))
		}
	}
	top := seen == nil
	if top {
		seen = map[string]int{}
	}
	var out, merged []keyValue
	for _, mv := range m.Values {
		if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
			// Members merged in come after the mapping's own, which win.
			more, err := c.mergeMembers(mv.Value, field)
			if err != nil {
				return nil, err
			}
			merged = append(merged, more...)
			continue
		}
		key, err := c.keyText(mv.Key, field)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[key]; dup {
			return nil, c.fail(mv.Key, join(field, key), "given twice (first on line %d)", first)
		}
		seen[key] = line(mv.Key)
		out = append(out, keyValue{key: key, keyNode: mv.Key, value: mv.Value})
	}
	for _, kv := range merged {
		if _, own := seen[kv.key]; !own {
			seen[kv.key] = line(kv.keyNode)
			out = append(out, kv)
		}
	}
	return out, nil
}

// mergeMembers returns the members a merge key brings: one mapping's, or
// a sequence of mappings' (the first of each key wins).
func (c *configReader) mergeMembers(n ast.Node, field string) ([]keyValue, error) {
	if c.merges++; c.merges > 8 {
		return nil, c.fail(n, field, "merge keys nested too deep (an anchor merged into itself?)")
	}
	defer func() { c.merges-- }()
	n, err := c.resolve(n, field)
	if err != nil {
		return nil, err
	}
	var sources []ast.Node
	if s, ok := n.(*ast.SequenceNode); ok {
		sources = s.Values
	} else {
		sources = []ast.Node{n}
	}
	var out []keyValue
	have := map[string]bool{}
	for _, src := range sources {
		kvs, err := c.mapping(src, field, nil)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			if !have[kv.key] {
				have[kv.key] = true
				out = append(out, kv)
			}
		}
	}
	return out, nil
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func (c *configReader) keyText(k ast.MapKeyNode, field string) (string, error) {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		n = mk.Value
	}
	s, ok := scalar(n)
	if !ok || s == "" {
		return "", c.fail(k, field, "a key that is not a name")
	}
	return s, nil
}

// sequence returns the items of the sequence n.
func (c *configReader) sequence(n ast.Node, field string) ([]ast.Node, error) {
	n, err := c.resolve(n, field)
	if err != nil {
		return nil, err
	}
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		return nil, c.fail(n, field, "want a list (items starting with -), not %s", kind(n))
	}
	return s.Values, nil
}

// resolve returns the node n stands for: through tags, anchors and
// aliases.
func (c *configReader) resolve(n ast.Node, field string) (ast.Node, error) {
	for range 100 { // a bound: aliases of aliases
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil && v.Value.GetToken() != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := c.anchors[name]
			if !ok {
				return nil, c.fail(n, field, "alias *%s: no anchor &%s", name, name)
			}
			n = target
		default:
			if n == nil {
				return nil, c.fail(nil, field, "no value")
			}
			return n, nil
		}
	}
	return nil, c.fail(n, field, "aliases nested too deep")
}

// str returns the text of the scalar n.
func (c *configReader) str(n ast.Node, field string) (string, error) {
	n, err := c.resolve(n, field)
	if err != nil {
		return "", err
	}
	s, ok := scalar(n)
	if !ok {
		return "", c.fail(n, field, "want a value, not %s", kind(n))
	}
	return s, nil
}

// count returns the whole number n, at least least. A quoted number
// ("3") is refused, as a string given for a number is in JSON: the file
// says what it means, and a mistake there is named rather than guessed
// at. (Durations, rates and sizes are text, quoted or not.)
func (c *configReader) count(n ast.Node, field string, least int) (int, error) {
	s, err := c.str(n, field)
	if err != nil {
		return 0, err
	}
	if r, _ := c.resolve(n, field); isQuoted(r) {
		return 0, c.fail(n, field, "%q: want a whole number, not a string: drop the quotes", s)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, c.fail(n, field, "%q: want a whole number", s)
	}
	if v < least {
		return 0, c.fail(n, field, "%d: want at least %d", v, least)
	}
	return v, nil
}

// size returns the size n gives (32MiB, or bytes), at least 1 byte.
func (c *configReader) size(n ast.Node, field string) (int64, error) {
	s, err := c.str(n, field)
	if err != nil {
		return 0, err
	}
	v, err := bytesize.Parse(s)
	if err == nil && v < 1 {
		err = errors.New("want at least 1 byte")
	}
	if err != nil {
		return 0, c.fail(n, field, "%s", strings.TrimPrefix(err.Error(), "proxy: "))
	}
	return v, nil
}

// duration returns the duration n, positive (or 0 when zeroOK).
func (c *configReader) duration(n ast.Node, field string, zeroOK bool) (time.Duration, error) {
	s, err := c.str(n, field)
	if err != nil {
		return 0, err
	}
	if zeroOK && s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		return 0, c.fail(n, field, "%q: want a positive duration such as 30s", s)
	}
	return d, nil
}

func (c *configReader) boolean(n ast.Node, field string) (bool, error) {
	r, err := c.resolve(n, field)
	if err != nil {
		return false, err
	}
	b, ok := r.(*ast.BoolNode)
	if !ok {
		s, _ := scalar(r)
		return false, c.fail(r, field, "%q: want true or false", s)
	}
	return b.Value, nil
}

// isQuoted reports whether n is a string written in quotes.
func isQuoted(n ast.Node) bool {
	sn, ok := n.(*ast.StringNode)
	if !ok {
		return false
	}
	t := sn.GetToken().Type
	return t == token.DoubleQuoteType || t == token.SingleQuoteType
}

// scalar returns the text of a scalar node as written (unquoted).
func scalar(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.NullNode:
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

func kind(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case nil:
		return "nothing"
	}
	if s, ok := scalar(n); ok {
		return strconv.Quote(s)
	}
	return strings.ToLower(n.Type().String())
}

// anchorCollector records every anchor's value by name, so that aliases
// resolve wherever their anchor is (an x- field, an earlier route).
type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		if name := an.Name.GetToken().Value; name != "" {
			a[name] = an.Value
		}
	}
	return a
}
