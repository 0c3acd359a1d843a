package batch

import (
	"bufio"
	"bytes"
	"errors"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
)

// The checks here find options that do not fit the input, before anything
// is sent: they are usage errors (exit 2), since a run with them would
// be billed for calls that cannot do what was asked.

// checkProgress refuses a --progress value that is not one of the modes.
func checkProgress(mode string) error {
	switch mode {
	case "", "auto", "bar", "log", "none":
		return nil
	}
	return usage("--progress %q: want auto, bar, log or none", mode)
}

// tokenFlags names the token limits set in l, as flags: "--tokens".
func tokenFlags(l sluice.Limits) []string {
	var names []string
	for _, f := range []struct {
		name string
		r    sluice.Rate
	}{{"--tokens", l.Tokens}, {"--input-tokens", l.InputTokens}, {"--output-tokens", l.OutputTokens}} {
		if !f.r.IsZero() {
			names = append(names, f.name)
		}
	}
	return names
}

// checkFormat refuses a preset used on the other API's batch lines, and
// token limits on a URL list, whose requests have no token cost.
func (p *plan) checkFormat() error {
	f := p.reader.Format()
	if p.preset != nil {
		switch {
		case p.preset.name == "openai" && f == input.FormatAnthropic:
			return usage("--api openai, but %s holds Anthropic Message Batches lines (custom_id, params): use --api anthropic", p.inputName())
		case p.preset.name == "anthropic" && f == input.FormatOpenAI:
			return usage("--api anthropic, but %s holds OpenAI Batch API lines (custom_id, url, body): use --api openai", p.inputName())
		}
	}
	if tf := tokenFlags(p.cfg.Limits); len(tf) > 0 && f == input.FormatURLs {
		return usage("%s: %s is a list of URLs, whose calls have no token cost sluice can estimate; token limits are for LLM requests (anthropic or openai lines, or http lines POSTing one)", strings.Join(tf, ", "), p.inputName())
	}
	return nil
}

// checkItems reports why the first items of the input do not fit the
// options: a token limit on requests whose cost cannot be estimated (not
// LLM requests sluice knows), or a preset on the other API's endpoints.
// window is the start of the input, as already read: the check reads no
// further, so that it never waits on a slow standard input. The dry run
// checks every item (see checkItem).
func (p *plan) checkItems(window []byte, opts input.Options) error {
	if p.preset == nil && len(tokenFlags(p.cfg.Limits)) == 0 {
		return nil
	}
	if i := bytes.LastIndexByte(window, '\n'); i >= 0 {
		window = window[:i+1] // whole lines only
	}
	opts.Format = p.reader.Format()
	r, err := input.NewReader(bytes.NewReader(window), opts)
	if err != nil {
		return nil // the real reader judges the input
	}
	for n := 0; n < checkedItems; n++ {
		it, err := r.Next()
		if bad := (*input.BadLine)(nil); errors.As(err, &bad) {
			continue
		}
		if err != nil {
			return nil
		}
		if err := p.checkItem(it); err != nil {
			return err
		}
	}
	return nil
}

// checkedItems is how many items at the start of the input checkItems
// looks at, at most.
const checkedItems = 5

// checkItem reports why one item does not fit the options, as a usage
// error naming its line.
func (p *plan) checkItem(it input.Item) error {
	path := ""
	if u := it.ParsedURL(); u != nil {
		path = u.Path
	}
	if p.preset != nil {
		other := ""
		switch {
		case p.preset.name == "anthropic" && (strings.HasSuffix(path, "/chat/completions") || strings.HasSuffix(path, "/responses") || strings.HasSuffix(path, "/embeddings")):
			other = "openai"
		case p.preset.name == "openai" && strings.HasSuffix(path, "/v1/messages"):
			other = "anthropic"
		}
		if other != "" {
			return usage("--api %s, but line %d of %s goes to %s, an endpoint of the %s API: use --api %s", p.preset.name, it.Line, p.inputName(), path, other, other)
		}
	}
	if tf := tokenFlags(p.cfg.Limits); len(tf) > 0 {
		if _, ok := sluice.EstimateCost(it.Method, path, it.Body); !ok {
			return usage("%s: line %d of %s (%s %s) is not an LLM request whose token cost sluice can estimate (a POST to /v1/messages, /v1/chat/completions, /v1/responses, /v1/embeddings...): drop the token limits, or use --rate", strings.Join(tf, ", "), it.Line, p.inputName(), it.Method, path)
		}
	}
	return nil
}

// window returns a copy of what r has already read of the input, without
// reading more.
func window(r *bufio.Reader) []byte {
	b, _ := r.Peek(r.Buffered())
	return bytes.Clone(b)
}
