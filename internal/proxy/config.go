package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/sluicehq/sluice"
)

// A configuration file describes several routes (`sluice proxy --config
// sluice.yaml`); testdata/sluice.yaml is a sample, and ConfigHelp the
// reference shown by `sluice proxy --help`.
//
// The YAML is read from its syntax tree rather than decoded into structs,
// so that every mistake is reported with its line and the path of its
// field (routes[1].rate), unknown fields included: a typo in a limit must
// not silently leave the API unprotected.

// ConfigHelp describes the configuration file's fields.
const ConfigHelp = `listen: 127.0.0.1:8787     # address to listen on (default 127.0.0.1:8787)
allow_remote: false        # true to allow a listen address beyond loopback
body_budget: 256MiB        # request bodies held at once, all routes; more wait for room
routes:                    # one or more; the longest matching prefix serves a request
  - prefix: /anthropic     # path prefix served ("" or absent: every path)
    strip_prefix: true     # send /anthropic/v1/messages as /v1/messages (default true)
    upstream: https://api.anthropic.com   # required, http or https
    preset: anthropic      # anthropic | openai | generic (default: from the host)
    concurrency: 8         # limits, as the flags of the same names
    adaptive: true         # false keeps the concurrency ceiling at concurrency
    rate: 50/m
    burst: 1
    window: 100/10s
    tokens: 40000/m        # token limits: anthropic and openai presets only
    input_tokens: 40000/m
    output_tokens: 8000/m
    max_retry_wait: 5m     # cap on a single honoured Retry-After
    models:                # limits of their own for some models (LLM presets);
      claude-haiku-4:      # a name covers its versions (claude-haiku-4-5-...)
        rate: 4000/m       # fields not given are the route's
    per_key: false         # limits per API key (hashed, never logged)
    redis: redis://127.0.0.1:6379/0   # share these limits with every proxy naming it (key: upstream host + prefix)
    redis_mode: local      # while that Redis does not answer: local (this proxy's share, in memory) | open | closed
    redis_key: anthropic   # the shared limits' name (default: upstream host + prefix)
    redis_processes: 1     # processes sharing the key: one that never reached Redis takes 1/N (default 1)
    queue: 1000            # most requests waiting; more get 429 at once
    max_wait: 30s          # longest wait for admission; longer predicted: 429
    max_body: 32MiB        # largest request body; larger: 413 (KiB, MiB, GiB or bytes)
    retries: 8             # retries of 429, 529 and transient errors (0: none)
    timeout: 10m           # per attempt, until the response starts (0: none)
`

// Config is a configuration file's content: what a Server is opened with.
type Config struct {
	// Listen is the address to listen on; "" means DefaultListen.
	Listen string
	// AllowRemote allows a Listen address beyond loopback.
	AllowRemote bool
	// BodyBudget is the Server's BodyBudget; 0 means DefaultBodyBudget.
	BodyBudget int64
	// Routes are the routes, in the file's order.
	Routes []Route
	// remoteListen is the mistake a Listen beyond loopback without
	// AllowRemote is, naming its line; RemoteListen says it.
	remoteListen error
}

// RemoteListen returns the error, naming the file's line, that the file's
// Listen is beyond loopback and its allow_remote is not set; nil when it
// is not so. The file is read whole either way, so that a command's
// --listen or --allow-remote can still override what it says.
func (c *Config) RemoteListen() error { return c.remoteListen }

// ConfigError is a mistake in a configuration file: where it is, and
// which field.
type ConfigError struct {
	File  string
	Line  int    // 0 when it is the file as a whole
	Field string // such as routes[1].rate; "" for a YAML syntax error
	Err   error
}

// Error reads "sluice.yaml:12: routes[1].rate: "20": want COUNT/PERIOD such as 50/s".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads and checks the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig reads and checks a configuration file's content; name is
// the file's name, for the errors, which are *ConfigError. It checks all
// that Server.Open would, so that a file it accepts opens.
func ParseConfig(name string, data []byte) (*Config, error) {
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey()) // mapping reports a key given twice, with its field
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			return nil, &ConfigError{File: name, Line: ye.GetToken().Position.Line, Err: errors.New(ye.GetMessage())}
		}
		return nil, &ConfigError{File: name, Err: err}
	}
	c := &configReader{file: name, anchors: map[string]ast.Node{}}
	cfg, err := c.read(f)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// configReader walks a file's syntax tree.
type configReader struct {
	file    string
	anchors map[string]ast.Node
	merges  int // merge keys being read, against cycles (&a {<<: *a})
}

func (c *configReader) fail(n ast.Node, field string, format string, args ...any) error {
	return &ConfigError{File: c.file, Line: line(n), Field: field, Err: fmt.Errorf(format, args...)}
}

func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

func (c *configReader) read(f *ast.File) (*Config, error) {
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	switch {
	case len(docs) == 0:
		return nil, &ConfigError{File: c.file, Err: errors.New("empty: want at least routes")}
	case len(docs) > 1:
		return nil, c.fail(docs[1].Body, "", "a second YAML document: want one")
	}
	ast.Walk(anchorCollector(c.anchors), docs[0].Body)
	top, err := c.mapping(docs[0].Body, "", nil)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Listen: DefaultListen}
	var routes, listen ast.Node
	for _, kv := range top {
		switch kv.key {
		case "listen":
			if cfg.Listen, err = c.str(kv.value, kv.key); err != nil {
				return nil, err
			}
			listen = kv.value
		case "allow_remote":
			if cfg.AllowRemote, err = c.boolean(kv.value, kv.key); err != nil {
				return nil, err
			}
		case "body_budget":
			cfg.BodyBudget, err = c.size(kv.value, kv.key)
			if err != nil {
				return nil, err
			}
		case "routes":
			routes = kv.value
		default:
			if slices.Contains(strings.Split(routeFields, ", "), kv.key) {
				return nil, c.fail(kv.keyNode, kv.key, "a route's field, not the file's: give it in each route (under routes:)")
			}
			if !strings.HasPrefix(kv.key, "x-") { // extension fields, to hold anchors
				return nil, c.unknown(kv, "", "listen, allow_remote, body_budget, routes")
			}
		}
	}
	if listen != nil {
		if err := CheckListen(cfg.Listen); err != nil {
			return nil, c.fail(listen, "listen", "%v", err)
		}
		if !cfg.AllowRemote && !IsLoopback(cfg.Listen) {
			cfg.remoteListen = c.fail(listen, "listen", "%q is not a loopback address: anyone who can reach it could use the API keys clients send; set allow_remote: true to mean it", cfg.Listen)
		}
	}
	if routes == nil {
		return nil, c.fail(docs[0].Body, "routes", "missing: want at least one route")
	}
	items, err := c.sequence(routes, "routes")
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, c.fail(routes, "routes", "empty: want at least one route")
	}
	prefixes := map[string]int{}
	for i, item := range items {
		field := fmt.Sprintf("routes[%d]", i)
		r, prefixNode, err := c.route(item, field)
		if err != nil {
			return nil, err
		}
		norm := strings.TrimSuffix(r.Prefix, "/") // "/a/" serves what "/a" does
		if j, ok := prefixes[norm]; ok {
			at := prefixNode
			if at == nil {
				at = item
			}
			return nil, c.fail(at, field+".prefix", "%q: routes[%d] has the same prefix", r.Prefix, j)
		}
		prefixes[norm] = i
		cfg.Routes = append(cfg.Routes, r)
	}
	return cfg, nil
}

// routeFields are a route's fields, for the unknown-field error.
const routeFields = "prefix, strip_prefix, upstream, preset, concurrency, adaptive, rate, burst, window, tokens, input_tokens, output_tokens, max_retry_wait, models, per_key, redis, redis_mode, redis_key, redis_processes, queue, max_wait, max_body, retries, timeout"

// route reads one route.
func (c *configReader) route(n ast.Node, field string) (Route, ast.Node, error) {
	r := Route{StripPrefix: true, QueueSize: DefaultQueueSize, MaxWait: DefaultMaxWait}
	kvs, err := c.mapping(n, field, nil)
	if err != nil {
		return r, nil, err
	}
	var (
		prefixNode, upstreamNode, presetNode, modelsNode ast.Node
		redisModeNode, redisKeyNode, redisProcessesNode  ast.Node
		tokenNode                                        *keyValue
		preset                                           string
		modelKVs                                         []keyValue
	)
	for _, kv := range kvs {
		f := field + "." + kv.key
		var err error
		switch kv.key {
		case "prefix":
			prefixNode = kv.value
			if r.Prefix, err = c.str(kv.value, f); err == nil && r.Prefix != "" && !strings.HasPrefix(r.Prefix, "/") {
				err = c.fail(kv.value, f, "%q: want a path starting with /", r.Prefix)
			}
		case "strip_prefix":
			r.StripPrefix, err = c.boolean(kv.value, f)
		case "upstream":
			upstreamNode = kv.value
			var s string
			if s, err = c.str(kv.value, f); err == nil {
				u, perr := url.Parse(s)
				if perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
					err = c.fail(kv.value, f, "%q: want an http or https URL, such as https://api.anthropic.com", s)
				} else {
					r.Upstream = u
				}
			}
		case "preset":
			presetNode = kv.value
			preset, err = c.str(kv.value, f)
		case "models":
			modelsNode = kv.value
			modelKVs, err = c.mapping(kv.value, f, nil)
		case "per_key":
			r.PerKey, err = c.boolean(kv.value, f)
		case "redis":
			if r.Redis, err = c.str(kv.value, f); err == nil {
				if u, perr := url.Parse(r.Redis); perr != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
					err = c.fail(kv.value, f, "%q: want a redis:// or rediss:// URL, such as redis://127.0.0.1:6379/0", r.Redis)
				}
			}
		case "redis_mode":
			redisModeNode = kv.value
			if r.RedisMode, err = c.str(kv.value, f); err == nil && r.RedisMode != "local" && r.RedisMode != "open" && r.RedisMode != "closed" {
				err = c.fail(kv.value, f, "%q: want local, open or closed", r.RedisMode)
			}
		case "redis_key":
			redisKeyNode = kv.value
			if r.RedisKey, err = c.str(kv.value, f); err == nil && strings.TrimSpace(r.RedisKey) == "" {
				err = c.fail(kv.value, f, "empty: want a name such as anthropic, or no redis_key for the upstream's host and prefix")
			}
		case "redis_processes":
			redisProcessesNode = kv.value
			r.RedisProcesses, err = c.count(kv.value, f, 1)
		case "adaptive":
			var adaptive bool
			adaptive, err = c.boolean(kv.value, f)
			r.Limits.FixedConcurrency = !adaptive
		case "queue":
			r.QueueSize, err = c.count(kv.value, f, 1)
		case "max_wait":
			r.MaxWait, err = c.duration(kv.value, f, false)
		case "max_body":
			r.MaxBody, err = c.size(kv.value, f)
		case "retries":
			var n int
			if n, err = c.count(kv.value, f, 0); err == nil {
				r.Retry.MaxAttempts = n + 1
			}
		case "timeout":
			r.AttemptTimeout, err = c.duration(kv.value, f, true)
		case "max_retry_wait":
			r.Limits.MaxPause, err = c.duration(kv.value, f, false)
		default:
			var ok bool
			if ok, err = c.limit(&r.Limits, kv, f); err == nil && !ok {
				err = c.unknown(kv, field, routeFields)
			}
			if ok && tokenNode == nil && strings.Contains(kv.key, "tokens") {
				tokenNode = &kv
			}
		}
		if err != nil {
			return r, nil, err
		}
	}
	if upstreamNode == nil {
		return r, nil, c.fail(n, field+".upstream", "missing: want the API to send requests to, such as https://api.anthropic.com")
	}
	for _, dep := range []struct {
		node ast.Node
		name string
	}{{redisModeNode, "redis_mode"}, {redisKeyNode, "redis_key"}, {redisProcessesNode, "redis_processes"}} {
		if dep.node != nil && r.Redis == "" {
			return r, nil, c.fail(dep.node, field+"."+dep.name, "needs redis: the URL of the Redis that shares the route's limits")
		}
	}
	if r.Preset, err = ParsePreset(preset, r.Upstream); err != nil {
		return r, nil, c.fail(presetNode, field+".preset", "%q: want anthropic, openai or generic", preset)
	}
	if !r.Preset.llm() && tokenNode != nil {
		return r, nil, c.fail(tokenNode.value, field+"."+tokenNode.key, "token limits need preset anthropic or openai: the %s preset cannot estimate a request's tokens", r.Preset)
	}
	if modelsNode != nil && len(modelKVs) > 0 {
		if !r.Preset.llm() {
			return r, nil, c.fail(modelsNode, field+".models", "limits per model need preset anthropic or openai, not %s", r.Preset)
		}
		r.Models = make(map[string]sluice.Limits, len(modelKVs))
		for _, kv := range modelKVs {
			f := field + ".models." + kv.key
			mkvs, err := c.mapping(kv.value, f, nil)
			if err != nil {
				return r, nil, err
			}
			lim := r.Limits // a model's fields not given are the route's
			for _, mkv := range mkvs {
				ok, err := c.limit(&lim, mkv, f+"."+mkv.key)
				if err != nil {
					return r, nil, err
				}
				if !ok {
					return r, nil, c.unknown(mkv, f, "concurrency, rate, burst, window, tokens, input_tokens, output_tokens")
				}
			}
			r.Models[kv.key] = lim
		}
	}
	return r, prefixNode, nil
}

// limit reads into l the limit kv names, reporting false when kv names
// none.
func (c *configReader) limit(l *sluice.Limits, kv keyValue, field string) (bool, error) {
	var (
		into    *sluice.Rate
		example string
	)
	switch kv.key {
	case "concurrency":
		n, err := c.count(kv.value, field, 1)
		l.Concurrency = n
		return true, err
	case "burst":
		n, err := c.count(kv.value, field, 1)
		l.Burst = n
		return true, err
	case "rate":
		into, example = &l.Rate, "50/s"
	case "window":
		into, example = &l.Window, "100/10s"
	case "tokens":
		into, example = &l.Tokens, "40000/m"
	case "input_tokens":
		into, example = &l.InputTokens, "40000/m"
	case "output_tokens":
		into, example = &l.OutputTokens, "8000/m"
	default:
		return false, nil
	}
	s, err := c.str(kv.value, field)
	if err != nil {
		return true, err
	}
	if !strings.Contains(s, "/") {
		return true, c.fail(kv.value, field, "%q: want COUNT/PERIOD such as %s", s, example)
	}
	r, err := sluice.ParseRate(s)
	if err != nil {
		// ParseRate names the value and ends with its sentinel: keep
		// only the reason, as the flags do.
		why := strings.TrimSuffix(err.Error(), ": "+sluice.ErrBadRate.Error())
		if _, after, ok := strings.Cut(why, fmt.Sprintf("%q: ", s)); ok {
			why = after
		}
		return true, c.fail(kv.value, field, "%q: %s", s, why)
	}
	*into = r
	return true, nil
}

func (c *configReader) unknown(kv keyValue, parent, known string) error {
	field := kv.key
	if parent != "" {
		field = parent + "." + kv.key
	}
	return c.fail(kv.keyNode, field, "unknown field; known: %s", known)
}
