package batch

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
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
// means "none" in a results line.
func (p *plan) fingerprint(it input.Item) uint64 {
	f := &p.fp
	f.once.Do(func() { f.common = p.commonHeaders() })
	h := sha256.New()
	field(h, []byte(it.Method))
	field(h, []byte(p.withoutBase(it.URL)))
	field(h, it.Body)
	h.Write(f.common)
	if len(it.Header) > 0 {
		h.Write([]byte{1})
		writeHeaders(h, it.Header, nil)
	}
	var sum [sha256.Size]byte
	v := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	if v == 0 {
		v = 1
	}
	return v
}

// withoutBase is url without the reader's base URL, when it starts with it.
func (p *plan) withoutBase(url string) string {
	if base := p.reader.BaseURL(); base != "" {
		if rest, ok := strings.CutPrefix(url, base); ok && (rest == "" || rest[0] == '/' || rest[0] == '?') {
			return rest
		}
	}
	return url
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
	var b bytesWriter
	writeHeaders(&b, p.header, skip)
	return b
}

// writeHeaders writes the headers of hd that count, in a fixed order,
// each name and value length-prefixed.
func writeHeaders(w interface{ Write([]byte) (int, error) }, hd http.Header, skip map[string]bool) {
	names := make([]string, 0, len(hd))
	for k := range hd {
		ck := http.CanonicalHeaderKey(k)
		if skip[ck] || slices.Contains(secretHeaders, ck) {
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		field(w, []byte(http.CanonicalHeaderKey(k)))
		for _, v := range hd[k] {
			field(w, []byte(v))
		}
		w.Write([]byte{0})
	}
}

// field writes b with its length before it, so that no two different
// requests write the same bytes.
func field(w interface{ Write([]byte) (int, error) }, b []byte) {
	var n [binary.MaxVarintLen64]byte
	w.Write(n[:binary.PutUvarint(n[:], uint64(len(b))+1)])
	w.Write(b)
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// resumable decides about an item an earlier run succeeded with: true to
// skip it, false to run it again because its request changed.
func (p *plan) resumable(it input.Item) bool {
	switch p.seen.Compare(it.ID, p.fingerprint(it)) {
	case journal.Changed:
		p.changed.Add(1)
		if p.cfg.SkipChanged {
			return true
		}
		p.seen.Redo(it.ID)
		return false
	}
	return true // unchanged, or recorded by a sluice from before fingerprints
}

// reportJournal says on stderr, once, what opening the journal did that
// the user should know: where --restart moved the earlier results, and
// that results from an older sluice are taken as unchanged.
func (p *plan) reportJournal() {
	if r, e := p.journal.MovedAside(); r != "" || e != "" {
		switch {
		case r != "" && e != "":
			fmt.Fprintf(p.stderr, "sluice: --restart: earlier results moved to %s, earlier errors to %s\n", r, e)
		case r != "":
			fmt.Fprintf(p.stderr, "sluice: --restart: earlier results moved to %s\n", r)
		default:
			fmt.Fprintf(p.stderr, "sluice: --restart: earlier errors moved to %s\n", e)
		}
	}
	if n := p.journal.Unrecorded(); n > 0 {
		fmt.Fprintf(p.stderr, "sluice: %d earlier results carry no request fingerprint (written by an older sluice): taken as unchanged\n", n)
	}
}
