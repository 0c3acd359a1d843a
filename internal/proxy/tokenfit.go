package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
)

// A token budget holds one period's tokens (--tokens 10000/m holds
// 10000). A request estimated at more, say one with max_tokens 20000 or
// an absurd 1e20, could never be admitted, nor fit the API's own limit.
// The library refuses it at once, taking nothing (sluice.ErrTooLarge),
// in the proxy as in every face; the proxy estimates each request's
// tokens once, before it queues, and answers that refusal with a 413
// that names the numbers.

// tokenLimited reports whether any of the route's limits, its own or a
// model's, keeps a token budget.
func (r *Route) tokenLimited() bool {
	if hasTokenBudget(r.Limits) {
		return true
	}
	for _, l := range r.Models {
		if hasTokenBudget(l) {
			return true
		}
	}
	return false
}

func hasTokenBudget(l sluice.Limits) bool {
	return !l.Tokens.IsZero() || !l.InputTokens.IsZero() || !l.OutputTokens.IsZero()
}

// withTokenEstimate estimates the tokens of a request to a
// token-limited route and returns ctx carrying the estimate
// (sluice.WithCost), so that the Transport charges it without reading
// the body again; the gate refuses an estimate no budget could hold
// (overCapacity answers). A body the estimator does not know passes on
// as it is: the Transport answers it (sluice.ErrUnknownCost).
func (r *route) withTokenEstimate(ctx context.Context, req *http.Request, body []byte) context.Context {
	c, _, ok := r.tokenEstimate(req, body)
	if !ok {
		return ctx // the Transport refuses it; unknownCost says why
	}
	return sluice.WithCost(ctx, c)
}

// tokenEstimate returns the estimate of req, whose kept body is body, on
// a token-limited route, and the body it was read from (decompressed when
// the client compressed it, estimable); false when the route has no token
// budget or the body cannot be estimated.
func (r *route) tokenEstimate(req *http.Request, body []byte) (sluice.Cost, []byte, bool) {
	if !r.tokenBudget {
		return sluice.Cost{}, nil, false
	}
	plain, err := r.estimable(req, body)
	if err != nil {
		return sluice.Cost{}, nil, false
	}
	c, ok := sluice.EstimateCost(req.Method, req.URL.Path, plain)
	return c, plain, ok
}

// neverAdmissible returns the error the gate req would go through refuses
// its token estimate with, at once, when the estimate is more than one of
// its limits could ever admit (sluice.ErrTooLarge); nil otherwise. It
// asks the gate without queueing, for a request the full queue turns
// away: the client is told that waiting would not help (413), not to
// come back (429). The gate's key is the one the Transport gives the
// request once rewritten to the upstream.
func (r *route) neverAdmissible(req *http.Request, body []byte) error {
	c, plain, ok := r.tokenEstimate(req, body)
	if !ok {
		return nil
	}
	return r.tr.Gate(r.gateKey(req, plain)).CheckCost(c)
}

// overCapacity answers a request the library refused because its cost
// exceeds what a limit of its gate could ever admit (err matches
// sluice.ErrTooLarge): 413, naming the numbers and what to lower.
func (r *route) overCapacity(w http.ResponseWriter, req *http.Request, body []byte, err error) {
	if plain, err := r.estimable(req, body); err == nil {
		body = plain
	}
	if bad := badField(req, body); bad != "" {
		// The estimate took the API's default for a cap it could not
		// read: the request is malformed, not too large.
		r.answer(w, http.StatusBadRequest, "invalid_request_error", "", bad)
		return
	}
	var e *sluice.TooLargeError
	if !errors.As(err, &e) {
		r.answer(w, http.StatusRequestEntityTooLarge, r.tooLargeKind(), "request_too_large", err.Error())
		return
	}
	k := e.Capacity
	if !k.Tokens {
		r.answer(w, http.StatusRequestEntityTooLarge, r.tooLargeKind(), "request_too_large", fmt.Sprintf(
			"this request asks %d requests of the %s limits, more than %s could ever admit (%d)",
			k.Asked(e.Cost), r.budgetOwner(req), e.Limit, k.Max))
		return
	}
	kind := strings.ReplaceAll(strings.TrimSuffix(k.Units(), "s"), " ", "-") // "token", "input-token"
	limits := r.limitsOf(req)
	budget := fmt.Sprintf("%d a period", k.Max) // the library's number, unless the route's own says the same
	if rate := [...]sluice.Rate{sluice.AllTokens: limits.Tokens, sluice.InputTokens: limits.InputTokens, sluice.OutputTokens: limits.OutputTokens}[k.Kind]; !rate.IsZero() && int64(math.Ceil(rate.N)) == k.Max {
		budget = rate.String()
	}
	r.answer(w, http.StatusRequestEntityTooLarge, r.tooLargeKind(), "request_too_large", fmt.Sprintf(
		"this request's estimated %d %ss exceed the %s %s budget of %v, so it could never be admitted: lower max_tokens (or the prompt) below the budget (estimated input %d, output %d: the output is max_tokens)",
		k.Asked(e.Cost), kind, r.budgetOwner(req), kind, budget, e.Cost.InputTokens, e.Cost.OutputTokens))
}

// budgetOwner names whose limits req goes through: "model NAME's" when
// the route gives its model limits of its own, else "route's".
func (r *route) budgetOwner(req *http.Request) string {
	if len(r.Models) > 0 {
		gate, _, _ := strings.Cut(r.key(req), "#") // host/model, the API key's hash aside
		if _, model, ok := strings.Cut(gate, "/"); ok {
			if _, own := r.Models[model]; own {
				return "model " + model + "'s"
			}
		}
	}
	return "route's"
}

// badField names a field of body, a request for req's path, that the
// APIs would refuse and the estimate cannot read ("max_tokens: -5: want a
// positive integer"), "" when none is. The library decides
// (sluice.Estimate's *FieldError), so run, proxy and mcp agree. It
// estimates the body again: called only for a request refused for its
// estimate, never on the way of one admitted.
func badField(req *http.Request, body []byte) string {
	var fe *sluice.FieldError
	if _, err := sluice.Estimate(req.Method, req.URL.Path, body); errors.As(err, &fe) {
		return strings.TrimPrefix(fe.Error(), "sluice: ")
	}
	return ""
}

// unknownCost says why the proxy cannot estimate the tokens of req.
func (r *route) unknownCost(req *http.Request) string {
	const msg = "the proxy cannot estimate this request's tokens for its token limit"
	body, err := r.estimable(req, bodyOf(req))
	if err != nil {
		return msg + ": " + err.Error()
	}
	if !json.Valid(body) {
		return msg + ": the request body is not JSON"
	}
	if bad := badField(req, body); bad != "" {
		return msg + ": " + bad
	}
	return msg + ": the body is not an Anthropic or OpenAI request"
}

// bodyOf returns the body the proxy kept of req, a route's request being
// served, nil when it has none.
func bodyOf(req *http.Request) []byte {
	if a := admissionOf(req.Context()); a != nil {
		return a.body.bytes()
	}
	return nil
}
