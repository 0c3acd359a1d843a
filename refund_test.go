package sluice_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/apitest"
)

// A request the API refuses without doing its work (a 400 for an empty
// message list, a 429, a 404...) used to keep its whole token estimate
// charged: one request with max_tokens 20000 against a budget of 10000 a
// minute left a debt that made every later call wait two minutes, and an
// absurd max_tokens made it hours. Such a refusal now gives the estimate
// back, so the next call goes at once; a 500, which may come after the
// model ran, keeps it (the conservative side). (A cost above the whole
// budget is now refused before it is sent, toolarge_test.go: here the
// first call asks 9000 of 10000 and the next 5000.)
func TestTransportRefundsTokensOfARefusedRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		refunded bool
	}{
		{"400 invalid request", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: at least one message is required"}}`, true},
		{"401", 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, true},
		{"404", 404, `{"type":"error","error":{"type":"not_found_error","message":"model: nope"}}`, true},
		{"413", 413, `{"type":"error","error":{"type":"request_too_large","message":"too large"}}`, true},
		{"422", 422, `{"error":{"message":"bad","type":"invalid_request_error"}}`, true},
		{"429 rate limit", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, true},
		{"500 kept", 500, `{"type":"error","error":{"type":"api_error","message":"internal"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const budget = 10000 // tokens a minute
				begin := time.Now()
				var calls atomic.Int32
				var second time.Duration
				tr := &sluice.Transport{
					Base: apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						io.Copy(io.Discard, r.Body)
						if calls.Add(1) == 1 {
							w.Header().Set("Content-Type", "application/json")
							w.WriteHeader(tc.status)
							io.WriteString(w, tc.body)
							return
						}
						second = time.Since(begin)
						fmt.Fprint(w, `{"type":"message","content":[],"usage":{"input_tokens":5,"output_tokens":5}}`)
					})},
					Limits: sluice.Limits{Tokens: sluice.PerMinute(budget)},
					Retry:  sluice.RetryPolicy{MaxAttempts: 1},
				}
				client := &http.Client{Transport: tr}
				// 9000 output tokens estimated: kept, they leave too
				// little of the budget for the next 5000.
				post(t.Context(), client, "http://api.anthropic.test/v1/messages",
					`{"model":"claude-haiku-4-5","max_tokens":9000,"messages":[]}`)
				if err := post(t.Context(), client, "http://api.anthropic.test/v1/messages",
					`{"model":"claude-haiku-4-5","max_tokens":5000,"messages":[{"role":"user","content":"hi"}]}`); err != nil {
					t.Fatal(err)
				}
				// A 429 without Retry-After pauses the gate a little; the
				// estimate kept would make it more than a minute.
				if refunded := second < 10*time.Second; refunded != tc.refunded {
					t.Errorf("after a %d the next small call went at %v: refunded = %v, want %v", tc.status, second, refunded, tc.refunded)
				}
			})
		})
	}
}

// A request that never reached the API (the connection was refused) used
// nothing of its token budget: its estimate is given back.
func TestTransportRefundsTokensOfARequestNeverSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		var second time.Duration
		var calls atomic.Int32
		refused := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: connection refused")}
		tr := &sluice.Transport{
			Base: baseFunc(func(r *http.Request) (*http.Response, error) {
				if calls.Add(1) == 1 {
					return nil, refused
				}
				second = time.Since(begin)
				return apitest.RoundTripper{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprint(w, `{"type":"message","content":[],"usage":{"input_tokens":5,"output_tokens":5}}`)
				})}.RoundTrip(r)
			}),
			Limits: sluice.Limits{Tokens: sluice.PerMinute(10000)},
			Retry:  sluice.RetryPolicy{MaxAttempts: 1},
		}
		client := &http.Client{Transport: tr}
		if err := post(t.Context(), client, "http://api.anthropic.test/v1/messages",
			`{"model":"claude-haiku-4-5","max_tokens":9000,"messages":[{"role":"user","content":"hi"}]}`); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("first call: err = %v, want the refusal", err)
		}
		if err := post(t.Context(), client, "http://api.anthropic.test/v1/messages",
			`{"model":"claude-haiku-4-5","max_tokens":9000,"messages":[{"role":"user","content":"hi"}]}`); err != nil {
			t.Fatal(err)
		}
		if second != 0 {
			t.Errorf("the second call went at %v; the first, never sent, should have given its 9000 tokens back", second)
		}
	})
}

// baseFunc is a RoundTripper made of a func.
type baseFunc func(*http.Request) (*http.Response, error)

func (f baseFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
