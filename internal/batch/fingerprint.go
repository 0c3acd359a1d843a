package batch

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

// A request's fingerprint is a 64-bit hash of what the API is asked: the
// method, the URL, the body and the headers that matter. The URL counts
// without the base URL (--base-url, or the preset's): the base says where
// the API is, not what it is asked, so pointing a resumed run at another
// address of the same API (a proxy, a new port) re-runs nothing. Each results line
// records it (input.Response.Fingerprint), and a run that finds an id done
// compares it with the input's request for that id: when they differ (a
// new model, a new prompt) the id runs again, unless --skip-changed.
//
// Headers that change from run to run without changing the question
// (trace ids, User-Agent, Idempotency-Key) are left out too.
//
// Headers that carry credentials are left out, so that the fingerprint
// never depends on a key (and rotating a key changes nothing): those named
// below, and every header whose value names an ${ENV} variable, from the
// preset or -H. The key itself is never hashed, let alone written.

// secretHeaders are left out of fingerprints wherever they come from.
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie"}

// fingerprinter hashes requests; its zero value is ready once plan is set.
type fingerprinter struct {
	once   sync.Once
	common []byte // the run's own headers that count, encoded once
}

// fingerprint returns the fingerprint of it's request; never 0, which
// means "none" in a results line. It costs one SHA-256 of the request's
// bytes and, with a pooled buffer, no allocation.
func (p *plan) fingerprint(it input.Item) uint64 {
	f := &p.fp
	f.once.Do(func() { f.common = p.commonHeaders() })
	st := fpStates.Get().(*fpState)
	defer fpStates.Put(st)
	b := appendField(st.buf[:0], it.Method)
	b = appendField(b, p.withoutBase(it.URL))
	b = appendField(b, it.Body)
	b = append(b, f.common...)
	if len(it.Header) > 0 {
		b = append(b, 1)
		b = appendHeaders(b, it.Header, nil)
	}
	st.h.Reset()
	st.h.Write(b)
	if cap(b) <= 64<<10 {
		st.buf = b
	}
	v := binary.BigEndian.Uint64(st.h.Sum(st.sum[:0]))
	if v == 0 {
		v = 1
	}
	return v
}

// fpState is a fingerprint's scratch space, pooled.
type fpState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

var fpStates = sync.Pool{New: func() any { return &fpState{h: sha256.New()} }}

// withoutBase is url without the scheme and host of the reader's base
// URL, when it starts with them: the path stays whole, so that a base
// given with or without /v1 (which the SDKs both accept, and which reach
// the same endpoint) gives the same fingerprint.
func (p *plan) withoutBase(url string) string {
	if base := p.reader.BaseURL(); base != "" {
		origin := base
		if i := strings.Index(base, "://"); i >= 0 {
			if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
				origin = base[:i+3+j]
			}
		}
		if rest, ok := strings.CutPrefix(url, origin); ok && (rest == "" || rest[0] == '/' || rest[0] == '?') {
			return rest
		}
	}
	return url
}

// perRunHeaders are headers that change from run to run without changing
// what the API is asked (tracing, client identity): a -H of one of them
// must not make a resumed run send everything again.
var perRunHeaders = []string{"Traceparent", "Tracestate", "X-Request-Id", "X-Correlation-Id", "X-Amzn-Trace-Id", "User-Agent", "Idempotency-Key"}

// perRun reports whether a header is one of perRunHeaders, or named like
// a trace id (X-Trace, X-Trace-Id, X-B3-...).
func perRun(name string) bool {
	return slices.Contains(perRunHeaders, name) || strings.HasPrefix(name, "X-Trace") || strings.HasPrefix(name, "X-B3-")
}

// commonHeaders encodes the headers every request carries (p.header) that
// count: not secret, not from ${ENV}.
func (p *plan) commonHeaders() []byte {
	skip := map[string]bool{}
	if p.preset != nil {
		for k, v := range p.preset.headers {
			if envRef.MatchString(v) {
				skip[http.CanonicalHeaderKey(k)] = true
			}
		}
	}
	for _, kv := range p.cfg.Headers {
		if k, v, ok := strings.Cut(kv, ":"); ok && envRef.MatchString(v) {
			skip[http.CanonicalHeaderKey(strings.TrimSpace(k))] = true
		}
	}
	return appendHeaders(nil, p.header, skip)
}

// appendHeaders appends the headers of hd that count, in a fixed order,
// each name and value length-prefixed.
func appendHeaders(b []byte, hd http.Header, skip map[string]bool) []byte {
	names := make([]string, 0, len(hd))
	for k := range hd {
		ck := http.CanonicalHeaderKey(k)
		if skip[ck] || slices.Contains(secretHeaders, ck) || perRun(ck) {
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b = appendField(b, http.CanonicalHeaderKey(k))
		for _, v := range hd[k] {
			b = appendField(b, v)
		}
		b = append(b, 0)
	}
	return b
}

// appendField appends s with its length before it, so that no two
// different requests give the same bytes.
func appendField[S string | []byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s))+1)
	return append(b, s...)
}

// resumable decides about an item an earlier run succeeded with: true to
// skip it, false to run it again because its request changed.
func (p *plan) resumable(it input.Item) bool {
	switch p.seen.Compare(it.ID, p.fingerprint(it)) {
	case journal.Changed:
		p.changed.Add(1)
		if p.cfg.SkipChanged {
			return true
		}
		p.seen.Redo(it.ID) // a no-op when supersedeChanged did it
		return false
	}
	// Unchanged, or recorded by a sluice from before fingerprints: skipped,
	// unless supersedeChanged moved its result aside (the input changed
	// between its read and this one), which leaves it not done.
	return p.seen.Succeeded(it.ID)
}

// reportJournal says on stderr, once, what opening the journal did that
// the user should know: where --restart moved the earlier results, and
// that results from an older sluice are taken as unchanged.
func (p *plan) reportJournal() {
	if r, e := p.dest.MovedAside(); r != "" || e != "" {
		switch {
		case r != "" && e != "":
			fmt.Fprintf(p.stderr, "sluice: --restart: earlier results moved to %s, earlier errors to %s\n", r, e)
		case r != "":
			fmt.Fprintf(p.stderr, "sluice: --restart: earlier results moved to %s\n", r)
		default:
			fmt.Fprintf(p.stderr, "sluice: --restart: earlier errors moved to %s\n", e)
		}
	}
	if n := p.dest.Unrecorded(); n > 0 && p.cfg.toDatabase() {
		fmt.Fprintf(p.stderr, "sluice: %d rows of the results table carry no request fingerprint: taken as unchanged\n", n)
	} else if n > 0 {
		fmt.Fprintf(p.stderr, "sluice: %d earlier results carry no request fingerprint (written by an older sluice): taken as unchanged\n", n)
	}
}
