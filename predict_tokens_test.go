package sluice

import (
	"testing"
	"time"
)

// A burst of LLM calls with max_tokens 1000 against 3000 output tokens a
// minute: three are in flight, nine wait. Their estimates will mostly be
// refunded, as will the three in flight's, so the prediction that refuses
// a call at once (a deadline, the proxy's max wait) must not count them:
// it said two minutes, the refunds ended the wait in a second (outside
// review). Where the API charges estimates whole (NoRefund), the callers
// ahead do count.
func TestTokenBudgetPredictCountsRefundsAhead(t *testing.T) {
	b := NewTokenBudget(PerMinute(3000), OutputTokens)
	call := Cost{OutputTokens: 1000}
	for range 3 {
		if wait, _ := b.Take(call, time.Now(), 0); wait != 0 {
			t.Fatalf("take within the budget waits %v", wait)
		}
	}
	ahead := Cost{Requests: 8, OutputTokens: 8000}
	if got := b.Predict(ahead, call); got != 0 {
		t.Errorf("Predict behind 8 refundable calls, 3 in flight = %v, want 0: all of them may be refunded", got)
	}
	whole := Cost{OutputTokens: 1000, NoRefund: true}
	// 9000 tokens needed at 50 a second, 3000 of them refundable: 120s.
	if got := b.Predict(Cost{Requests: 8, OutputTokens: 8000, NoRefund: true}, whole); got < 100*time.Second || got > 130*time.Second {
		t.Errorf("Predict behind 8 calls charged whole = %v, want about 2m", got)
	}
}
