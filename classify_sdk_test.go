package sluice

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// sdkError is shaped as the official Go SDKs' API errors are (openai-go's
// and anthropic-sdk-go's Error): the response kept in a field, the body
// behind RawJSON.
type sdkError struct {
	StatusCode int
	Response   *http.Response
	raw        string
}

func (e *sdkError) Error() string   { return fmt.Sprintf("POST: %d %s", e.StatusCode, e.raw) }
func (e *sdkError) RawJSON() string { return e.raw }

func newSDKError(status int, header http.Header, body string) error {
	return fmt.Errorf("calling the API: %w", &sdkError{StatusCode: status, Response: &http.Response{StatusCode: status, Header: header}, raw: body})
}

// A Pool whose fn called an official SDK with its own client saw the
// SDK's refusals as errors it did not know, transient: a 401 was tried
// nine times, and a 429's Retry-After never paused the gate (outside
// review). They are read as the Transport reads the response.
func TestPoolReadsTheSDKsRefusals(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Class
	}{
		{newSDKError(401, nil, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`), ClassFatal},
		{newSDKError(400, nil, `{"error":{"message":"prompt is too long","type":"invalid_request_error"}}`), ClassFatal},
		{newSDKError(429, http.Header{"Retry-After": {"20"}}, `{"error":{"type":"rate_limit_error"}}`), ClassThrottled},
		{newSDKError(429, nil, `{"error":{"code":"insufficient_quota","type":"insufficient_quota"}}`), ClassQuotaExhausted},
		{newSDKError(529, nil, `{"type":"error","error":{"type":"overloaded_error"}}`), ClassOverloaded},
		{fmt.Errorf("plain: %w", &sdkError{StatusCode: 401}), ClassTransient}, // no response kept: nothing to read
	} {
		if got := ClassOf(tc.err); got != tc.want {
			t.Errorf("ClassOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}

	g := NewGate(NewSemaphore(4))
	calls := 0
	p := &Pool[int, int]{Gate: g, Workers: 1, Retry: RetryPolicy{Backoff: Backoff{Base: time.Millisecond, Cap: time.Millisecond}}}
	fail := newSDKError(401, nil, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
	res := slices.Collect(p.Run(context.Background(), slices.Values([]int{1, 2, 3}), func(context.Context, int) (int, error) {
		calls++
		return 0, fail
	}))
	if calls != 3 || len(res) != 3 || res[0].Class != ClassFatal {
		t.Errorf("3 items refused 401: %d calls, results %+v; want 3 calls, each fatal", calls, res)
	}

	g = NewGate(NewSemaphore(4))
	p.Gate = g
	p.Retry.MaxAttempts = 1
	before := time.Now()
	for range p.Run(context.Background(), slices.Values([]int{1}), func(context.Context, int) (int, error) {
		return 0, newSDKError(429, http.Header{"Retry-After": {"20"}}, `{"error":{"type":"rate_limit_error"}}`)
	}) {
	}
	if until := g.PausedUntil(); until.Before(before.Add(15 * time.Second)) {
		t.Errorf("after a 429 with Retry-After: 20 the gate is paused until %v, want about 20s from now", until)
	}
}
