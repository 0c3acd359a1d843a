package batch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

// doomSample is how many completed calls judge whether a run is doomed:
// if the first doomSample calls to complete all failed the same way, with
// a failure no retry can fix, the rest would too. Five is few enough to
// stop a wrong key or base URL within a second, and enough that one bad
// request among good ones does not stop a run. A batch of fewer items is
// never judged: it ends as soon anyway.
const doomSample = 5

// doom decides when a run must stop early, from each completed call in
// turn: at once when the API says the quota is exhausted, and when the
// first doomSample calls all failed alike with a class no retry can fix
// (401, 403, the same 404 or 400 message, an unsupported URL), since then
// every call would, each one billed or logged as a failure; and, at any
// point after a success, when doomSample calls in a row could not connect
// to the same address (the host died: unreachable). The zero
// value never stops a run; it is fed from the run's one result loop and
// is not safe for concurrent use.
type doom struct {
	p         *plan
	keepGoing bool // judge nothing but the quota (--keep-going)
	// resuming: earlier runs left results, so the setup has worked
	// before. Only a 401 or 403 is judged then: the first calls of a
	// resume are often the items that failed last time, failing alike
	// again, and judging them stopped every resume before it reached the
	// items never sent (found in review).
	resuming bool

	judged  int    // completed calls seen, up to doomSample
	key     string // what all the failures so far had in common
	cleared bool   // a call succeeded or failed otherwise: not doomed

	// A host that dies mid-run is judged apart, at any point of the run:
	// doomSample calls in a row that could not connect to the same
	// address, with no success between, stop the run, and the items not
	// sent are left for the next one. Before, each remaining item was
	// written off in turn, each paying its quick retries and its place in
	// the rate: 414 items of a 50/s run took 21 s and 879 attempts on the
	// dead host (outside review), and every one had to be run again.
	deadAddr string
	deadRun  int
}

func newDoom(cfg *Config, p *plan) *doom {
	return &doom{p: p, keepGoing: cfg.KeepGoing}
}

// succeeded records a completed call that succeeded.
func (d *doom) succeeded() {
	if d != nil {
		d.cleared = true
		d.deadRun = 0
	}
}

// unreachable records a completed call that failed, and returns why the
// run must stop when it is the last of doomSample in a row that could not
// reach the same address.
func (d *doom) unreachable(err error) error {
	var ue *sluice.UnreachableError
	if !errors.As(err, &ue) {
		d.deadRun = 0
		return nil
	}
	if ue.Addr != d.deadAddr {
		d.deadAddr, d.deadRun = ue.Addr, 0
	}
	d.deadRun++
	if d.deadRun < doomSample || !d.cleared {
		return nil // before any success, the first calls' judgement below says it better
	}
	return fmt.Errorf("%s stopped answering: the last %d calls could not connect (%v); the items not sent are left for the next run, or --keep-going to send every item anyway", ue.Addr, d.deadRun, ue.Err)
}

// failed records a completed call that failed, and returns why the run
// must stop (with what to change), or nil.
func (d *doom) failed(it input.Item, f input.Failure, class sluice.Class, err error) error {
	if d == nil {
		return nil
	}
	if class == sluice.ClassQuotaExhausted {
		return fmt.Errorf("the API's quota is exhausted: %s", f.Message)
	}
	if d.keepGoing {
		return nil
	}
	if why := d.unreachable(err); why != nil {
		return why
	}
	if d.cleared || d.judged >= doomSample {
		return nil
	}
	d.judged++
	key, ok := doomKey(it, f, class, err)
	auth := f.Status == http.StatusUnauthorized || f.Status == http.StatusForbidden
	switch {
	case !ok, d.judged > 1 && key != d.key, d.resuming && !auth:
		d.cleared = true
		return nil
	}
	d.key = key
	if d.judged < doomSample {
		return nil
	}
	return fmt.Errorf("the first %d calls to finish all got %s: %s; or --keep-going to send every item anyway", d.judged, what(f), d.advice(it, f))
}

// doomKey is what two failures must share to count as the same failure,
// and whether no retry can fix this one: a 401 or 403 whatever its
// message, another refusal (404, 400...) with the same message at the
// same path, or an error before any response (an unsupported scheme) with
// the same cause. The path counts for a 404 or 400: a list of URLs on
// which many pages are missing is a crawl's answer, not a wrong setup;
// a wrong base URL sends every call to the same missing path.
func doomKey(it input.Item, f input.Failure, class sluice.Class, err error) (string, bool) {
	if class != sluice.ClassFatal {
		return "", false
	}
	switch {
	case f.Status == http.StatusUnauthorized || f.Status == http.StatusForbidden:
		return fmt.Sprint(f.Status), true
	case f.Status != 0:
		path := it.URL
		if u := it.ParsedURL(); u != nil {
			path = u.Path
		}
		return fmt.Sprintf("%d %s %s", f.Status, path, f.Message), true
	}
	var ue *url.Error
	if errors.As(err, &ue) { // its URL differs from item to item
		return ue.Err.Error(), true
	}
	return f.Message, true
}

// what names a failure: "401 Unauthorized" or "404 Not Found (message)".
func what(f input.Failure) string {
	if f.Status == 0 {
		return f.Message
	}
	s := fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
	if f.Message != "" && f.Message != sluice.ClassFatal.String() {
		s += fmt.Sprintf(" (%s)", f.Message)
	}
	return s
}

// advice says what to change for a run doomed by failures like f.
func (d *doom) advice(it input.Item, f input.Failure) string {
	p := d.p
	switch f.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if auth := p.authSource(); auth != "none" {
			if f.Status == http.StatusForbidden {
				return "check that the key in " + auth + " may use this API and model"
			}
			return "check " + auth
		}
		return "no credentials were sent: use --api anthropic|openai with its API key variable, or -H 'Authorization: Bearer ${TOKEN}'"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		target := it.URL
		if u := it.ParsedURL(); u != nil {
			target = withoutPassword(u)
		}
		if p.base != "" {
			return fmt.Sprintf("nothing is served at %s: check the base URL %s (from %s) and the paths in the input", target, p.base, p.baseFrom)
		}
		return fmt.Sprintf("nothing is served at %s: check the URLs in the input", target)
	case 0:
		return "check the URLs in the input"
	}
	return "check the requests in the input (the model name, the parameters) against the API's message"
}

// unread counts the items of the input a stopped run never read, so that
// they are reported as not started (the next run does them) rather than
// left out. Standard input is not read on: it may never end.
func (p *plan) unread() int {
	if p.cfg.Input == "-" {
		return 0
	}
	n := 0
	for {
		it, err := p.reader.Next()
		if bad := (*input.BadLine)(nil); errors.As(err, &bad) {
			continue
		}
		if err != nil {
			return n
		}
		if sight, _ := p.seen.See(it.ID, it.Line); sight == journal.SightNew {
			n++
		}
	}
}
