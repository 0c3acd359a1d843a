package proxy

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice"
)

// A token budget holds one period's tokens (--tokens 10000/m holds
// 10000). The library admits a request estimated at more than that once
// the bucket is full, leaving a debt that every later call waits out: the
// budget is kept on average, which suits a batch that must send every
// item. Live traffic is better served by a plain no: such a request, say
// one with max_tokens 20000 or an absurd 1e20, would hold the whole route
// back for minutes or hours, and could not fit the API's own limit
// either. So the proxy refuses it at once, before it queues, consuming
// nothing, and says which numbers do not fit.

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

// fitTokens estimates the tokens of a request to a token-limited route
// and refuses it with 413 when a budget of its gate could never hold
// them. Otherwise it returns ctx carrying the estimate (sluice.WithCost),
// so that the Transport charges the same without reading the body again.
// A body the estimator does not know passes on as it is: the Transport
// answers it (sluice.ErrUnknownCost).
func (r *route) fitTokens(w http.ResponseWriter, req *http.Request, body []byte, ctx context.Context) (context.Context, outcome, bool) {
	if !r.tokenBudget {
		return ctx, 0, true
	}
	c, ok := sluice.EstimateCost(req.Method, req.URL.Path, body)
	if !ok {
		return ctx, 0, true
	}
	limits := r.limitsOf(req)
	for _, b := range []struct {
		kind string
		rate sluice.Rate
		n    int64
	}{
		{"token", limits.Tokens, int64(c.InputTokens) + int64(c.OutputTokens)},
		{"input-token", limits.InputTokens, int64(c.InputTokens)},
		{"output-token", limits.OutputTokens, int64(c.OutputTokens)},
	} {
		if b.rate.IsZero() || float64(b.n) <= math.Ceil(b.rate.N) {
			continue
		}
		r.answer(w, http.StatusRequestEntityTooLarge, r.tooLargeKind(), "request_too_large", fmt.Sprintf(
			"this request's estimated %d %ss exceed the %s %s budget of %v, so it could never be admitted: lower max_tokens (or the prompt) below the budget (estimated input %d, output %d: the output is max_tokens)",
			b.n, b.kind, r.budgetOwner(req), b.kind, b.rate, c.InputTokens, c.OutputTokens))
		return ctx, outcomeTooLarge, false
	}
	return sluice.WithCost(ctx, c), 0, true
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
