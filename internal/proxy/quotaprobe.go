package proxy

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A gate halted because the upstream said its quota is exhausted stays
// halted for quotaProbeAfter, then lets the next request through to ask
// again: a long-running gateway that every program on the host goes
// through must not go dark for good on one answer (outside review: only
// a restart brought it back, while its answers said Retry-After: 60).
// While the quota stays exhausted the upstream sees one request a
// minute, and the gate halts again on its answer.

// quotaProbeAfter is how long a gate halted for quota refuses before it
// lets a request through to see whether the quota was raised: the
// Retry-After its refusals give.
var quotaProbeAfter = quotaRetryAfter * time.Second // a var for the tests alone (export_test.go)

// quotaHalts keeps when each of a route's gates halted for quota, by the
// Transport's key, for the probe. The zero value is ready.
type quotaHalts struct {
	any   atomic.Int32 // gates halted and not yet probed: 0 costs a load per request
	mu    sync.Mutex
	since map[string]time.Time
}

// halted notes that the gate of key halted now, and reports whether it
// had not been noted since its last probe (then the halt is logged).
func (h *quotaHalts) halted(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, noted := h.since[key]; noted {
		return false
	}
	if h.since == nil {
		h.since = make(map[string]time.Time)
	}
	h.since[key] = time.Now()
	h.any.Add(1)
	return true
}

// due reports whether the gate of key halted for quota long enough ago to
// be asked again, and forgets its halt if so: exactly one caller gets
// true for a halt.
func (h *quotaHalts) due(key string) bool {
	if h.any.Load() == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.since[key]
	if !ok || time.Since(at) < quotaProbeAfter {
		return false
	}
	delete(h.since, key)
	h.any.Add(-1)
	return true
}

// probeQuota resumes req's gate when it halted for quota quotaProbeAfter
// ago or more, so that req goes to the upstream and its answer says
// whether the quota was raised.
func (r *route) probeQuota(req *http.Request, body []byte) {
	if r.quota.any.Load() == 0 {
		return
	}
	key := r.gateKey(req, body)
	if !r.quota.due(key) {
		return
	}
	r.tr.Gate(key).Resume()
	gate, _, _ := strings.Cut(key, "#") // host/model, never the API key's hash
	r.log.info("route resumed after its quota halt: the next request asks the upstream again", "route", r.obs.label, "gate", gate)
}

// gateKey is the key of the gate req, whose body the proxy kept, goes
// through: the Transport's, for req rewritten to the upstream, with its
// body to read the model from.
func (r *route) gateKey(req *http.Request, body []byte) string {
	out := *req
	u := *req.URL
	u.Scheme, u.Host = r.Upstream.Scheme, r.Upstream.Host
	out.URL = &u
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return r.tr.KeyOf(&out)
}

// quotaRetryAfter is the Retry-After, in whole seconds, of a request
// refused because its gate halted for quota: the time left until the
// gate's probe (at least a second), or quotaRetryAfter when the halt's
// time is not known (outside review: a client told 60 at second 58 came
// back a minute late).
func (r *route) quotaRetryAfter(req *http.Request) int {
	a := admissionOf(req.Context())
	if a == nil || a.gateKey == "" {
		return quotaRetryAfter
	}
	r.quota.mu.Lock()
	at, ok := r.quota.since[a.gateKey]
	r.quota.mu.Unlock()
	if !ok {
		return quotaRetryAfter
	}
	left := quotaProbeAfter - time.Since(at)
	return max(1, int((left+time.Second-1)/time.Second))
}
