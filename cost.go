package sluice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"net/http"
	"sync"
)

// costKey is the context key under which WithCost stores a Cost.
type costKey struct{}

// WithCost returns a context that carries c, the cost of the call made
// with it, for callers who know it better than an estimate (a token count
// from a tokenizer, a batch's precomputed figure). The Transport charges
// it in place of its own estimate; a Gate's callers pass their Cost to
// Acquire themselves.
func WithCost(ctx context.Context, c Cost) context.Context {
	return context.WithValue(ctx, costKey{}, c)
}

// CostFrom returns the Cost ctx carries and whether it carries one.
func CostFrom(ctx context.Context) (Cost, bool) {
	c, ok := ctx.Value(costKey{}).(Cost)
	return c, ok
}

// ErrUnknownCost is the error (errors.Is) of a request the Transport
// refuses because it has a token limit to keep and no way to know what the
// request costs: it is not an LLM request EstimateCost knows, and neither
// Transport.Cost nor WithCost says its cost. Nothing is sent.
var ErrUnknownCost = errors.New("sluice: cannot estimate the request's tokens for the token limit")

// cost returns what req asks of its gate's limits: Transport.Cost's answer
// if set, else the cost req's context carries (WithCost), else, when the
// gate keeps a token budget, an estimate from the body (EstimateCost). A
// request without a body costs no tokens.
//
// Under a token limit of the gate's own Limits (Limits, or LimitsFor) a body that cannot be
// estimated is an error, since charging it nothing would make the limit a
// silent no-op. The budgets learned from an API's headers
// (anthropic-ratelimit-input-tokens-limit, x-ratelimit-limit-tokens) are
// another matter: the user asked for nothing, and an API that sends them
// is an LLM API whose requests EstimateCost mostly knows; so those are
// estimated too, but an unknown body just costs no tokens. No gate with no
// token budget at all pays for reading the body.
//
// On error req's body is closed, as RoundTrip must.
func (t *Transport) cost(req *http.Request, kept *keptGate, body *requestBody) (Cost, error) {
	if t.Cost != nil {
		return t.Cost(req), nil
	}
	if c, ok := CostFrom(req.Context()); ok {
		return c, nil
	}
	required := kept.tokenLimited
	if !required && !kept.gate.learnedTokens() {
		return Cost{}, nil
	}
	if body.kept == nil && body.stream == nil {
		return Cost{}, nil // no body: no tokens
	}
	data, pooled, whole, err := peekBody(body)
	if err != nil {
		return Cost{}, fmt.Errorf("sluice: reading request body: %w", err)
	}
	var c Cost
	estimateErr := errBodyTooLarge
	if whole {
		c, estimateErr = Estimate(req.Method, req.URL.Path, data)
	}
	if pooled != nil && pooled.Cap() <= maxPooledBody {
		bodyBuffers.Put(pooled)
	}
	if estimateErr == nil || !required {
		return c, nil
	}
	why := estimateErr.Error()
	var fe *FieldError
	switch {
	case errors.As(estimateErr, &fe):
		why = fe.Field + ": " + fe.Value + ": want " + fe.Want
	case whole:
		why = "its body is not an Anthropic or OpenAI request"
	}
	method := req.Method
	if method == "" {
		method = "GET" // as net/http reads it
	}
	// Permanent: sending it again will not help.
	return Cost{}, Permanent(fmt.Errorf("%w: %s %s: %s; set Transport.Cost, or pass its cost with sluice.WithCost(ctx, cost)", ErrUnknownCost, method, req.URL.Path, why))
}

// errBodyTooLarge is why a body larger than MaxBodyBuffer is not
// estimated.
var errBodyTooLarge = errors.New("its body is larger than MaxBodyBuffer")

// learnedTokens reports whether the gate has learned a token budget from
// the API's headers.
func (g *Gate) learnedTokens() bool {
	if !g.learning.Load() {
		return false // nothing learned yet: every learned rate is zero
	}
	for i := range g.learned.tokens {
		if !g.learned.tokens[i].Rate().IsZero() {
			return true
		}
	}
	return false
}

// bodyBuffers holds the buffers request bodies are read into to be
// estimated: one a request would otherwise be garbage.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept in bodyBuffers, so that one
// request with large images does not pin its size for good.
const maxPooledBody = 1 << 20

// peekBody returns the request body for the estimate without taking it
// from what will be sent: the bytes rewindable already read, or a copy
// from GetBody (as the SDKs and http.NewRequest set it, the body is in
// memory already, whatever its size). whole is false when the body was
// too large to keep. data is valid until pooled, when not nil, goes back
// to bodyBuffers.
func peekBody(body *requestBody) (data []byte, pooled *bytes.Buffer, whole bool, err error) {
	if body.read != nil || body.stream != nil {
		return body.read, nil, body.stream == nil, nil
	}
	rc, err := body.kept()
	if err != nil {
		return nil, nil, false, err
	}
	defer rc.Close()
	data, pooled, err = bodyBytes(rc)
	if err != nil {
		if pooled != nil {
			bodyBuffers.Put(pooled)
		}
		return nil, nil, false, err
	}
	return data, pooled, true, nil
}

// BodyBytes is what a request body from GetBody may implement when it
// holds the whole body in one buffer already (a proxy's kept copy): the
// library then reads the body there, for the model key and the token
// estimate, rather than copying it. Bytes returns the unread body, which
// the caller does not change or keep after closing the reader.
type BodyBytes interface {
	Bytes() []byte
}

// bodyBytes returns the whole of rc: its own bytes when it is a
// BodyBytes, else a copy in pooled, a bodyBuffers buffer to give back
// (putBodyBuffer) once data is no longer used.
func bodyBytes(rc io.Reader) (data []byte, pooled *bytes.Buffer, err error) {
	if b, ok := rc.(BodyBytes); ok {
		return b.Bytes(), nil, nil
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(rc)
	return buf.Bytes(), buf, err
}

// putBodyBuffer gives buf back to bodyBuffers unless it grew too large.
func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		bodyBuffers.Put(buf)
	}
}

// usage returns how the call admitted with permit reads its usage:
// Transport.Usage, or else ScanUsage when the call was charged tokens, so
// that an estimate (a max_tokens the answer rarely reaches) is settled to
// what was really used without the caller asking. Calls charged no tokens
// skip the sampling.
func (t *Transport) usage(permit *Permit) func(*http.Response, []byte, []byte) *Usage {
	if t.Usage != nil {
		return t.Usage
	}
	if permit != nil && (permit.cost.InputTokens > 0 || permit.cost.OutputTokens > 0) { // the fields, not a copy of the Cost
		return ScanUsage
	}
	return nil
}
