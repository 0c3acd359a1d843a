package mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// anthropicAPI speaks the Anthropic Messages API.
type anthropicAPI struct{ s *Server }

func (a anthropicAPI) route(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("request-id", a.s.newID("req_011C", 20))
	var serve func(http.ResponseWriter, *http.Request, []byte)
	switch r.URL.Path {
	case "/v1/messages":
		serve = a.messages
	case "/v1/messages/count_tokens":
		serve = a.countTokens
	default:
		a.s.invalid(w, http.StatusNotFound, anthropicError("not_found_error", "Not Found"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		a.s.invalid(w, http.StatusMethodNotAllowed, anthropicError("invalid_request_error", "Method Not Allowed"))
		return
	}
	body, status, err := readBody(r)
	if err != nil {
		kind := "invalid_request_error"
		if status == http.StatusRequestEntityTooLarge {
			kind = "request_too_large"
		}
		a.s.invalid(w, status, anthropicError(kind, "Could not read the request body: "+err.Error()))
		return
	}
	serve(w, r, body)
}

// anthropicRequest is the part of a Messages API request the mock reads.
// Pointers tell a missing field from a zero one.
type anthropicRequest struct {
	Model     *string          `json:"model"`
	MaxTokens *int64           `json:"max_tokens"`
	Messages  *[]anthropicTurn `json:"messages"`
	System    json.RawMessage  `json:"system"`
	Stream    bool             `json:"stream"`
}

type anthropicTurn struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// parse validates body as the API does, returning the message of the 400
// it deserves, if any. count_tokens needs no max_tokens.
func (req *anthropicRequest) parse(body []byte, needMaxTokens bool) string {
	if field, want, err := decodeJSON(body, req); err != nil {
		if field != "" {
			return fmt.Sprintf("%s: Input should be a valid %s", field, want)
		}
		return "Request body is not a valid JSON object: " + err.Error()
	}
	switch {
	case req.Model == nil || *req.Model == "":
		return "model: Field required"
	case needMaxTokens && req.MaxTokens == nil:
		return "max_tokens: Field required"
	case needMaxTokens && *req.MaxTokens < 1:
		return "max_tokens: Input should be greater than or equal to 1"
	case req.Messages == nil:
		return "messages: Field required"
	case len(*req.Messages) == 0:
		return "messages: List should have at least 1 item after validation, not 0"
	}
	for i, m := range *req.Messages {
		switch {
		case m.Role != "user" && m.Role != "assistant":
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		case len(m.Content) == 0 || string(m.Content) == "null":
			return fmt.Sprintf("messages.%d.content: Field required", i)
		}
	}
	return ""
}

// inputTokens estimates the prompt: the system prompt and every message.
func (req *anthropicRequest) inputTokens() int64 {
	n := promptBytes(req.System)
	for _, m := range *req.Messages {
		n += promptBytes(m.Content)
	}
	return estimateTokens(n)
}

// anthropicMessage is a Messages API response.
type anthropicMessage struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []anthropicBlock `json:"content"`
	StopReason   *string          `json:"stop_reason"`
	StopSequence *string          `json:"stop_sequence"`
	Usage        anthropicUsage   `json:"usage"`
}

type anthropicBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

func (a anthropicAPI) messages(w http.ResponseWriter, r *http.Request, body []byte) {
	var req anthropicRequest
	if msg := req.parse(body, true); msg != "" {
		a.s.invalid(w, http.StatusBadRequest, anthropicError("invalid_request_error", msg))
		return
	}
	c := cost{input: req.inputTokens(), output: a.s.drawOutput(*req.MaxTokens)}
	a.s.call(w, r, c, func(p *reply) {
		words := a.s.words(c.output)
		stop := "end_turn"
		if c.output == *req.MaxTokens {
			stop = "max_tokens"
		}
		msg := anthropicMessage{
			ID:         a.s.newID("msg_01", 22),
			Type:       "message",
			Role:       "assistant",
			Model:      *req.Model,
			Content:    []anthropicBlock{{Type: "text", Text: joinWords(words)}},
			StopReason: &stop,
			Usage:      anthropicUsage{InputTokens: c.input, OutputTokens: c.output},
		}
		if req.Stream {
			a.stream(p, msg, words)
			return
		}
		b, _ := json.Marshal(msg)
		p.start("application/json")
		p.body(append(b, '\n'), p.generation(c.output))
	})
}

// countTokens answers POST /v1/messages/count_tokens. It spends a request
// and a concurrency slot like any request, and no tokens.
func (a anthropicAPI) countTokens(w http.ResponseWriter, r *http.Request, body []byte) {
	var req anthropicRequest
	if msg := req.parse(body, false); msg != "" {
		a.s.invalid(w, http.StatusBadRequest, anthropicError("invalid_request_error", msg))
		return
	}
	n := req.inputTokens()
	a.s.call(w, r, cost{}, func(p *reply) {
		b, _ := json.Marshal(map[string]int64{"input_tokens": n})
		p.start("application/json")
		p.body(append(b, '\n'), 0)
	})
}

// anthropicErrorBody is the API's error shape.
type anthropicErrorBody struct {
	Type  string               `json:"type"`
	Error anthropicErrorDetail `json:"error"`
}

type anthropicErrorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func anthropicError(kind, message string) anthropicErrorBody {
	return anthropicErrorBody{Type: "error", Error: anthropicErrorDetail{Type: kind, Message: message}}
}

func (a anthropicAPI) rateHeaders(h http.Header, snap snapshot) {
	for _, b := range []struct {
		name  string
		state bucketState
	}{
		{"requests", snap.requests},
		{"input-tokens", snap.input},
		{"output-tokens", snap.output},
		{"tokens", snap.tokens},
	} {
		if !b.state.set {
			continue
		}
		prefix := "anthropic-ratelimit-" + b.name
		h.Set(prefix+"-limit", strconv.FormatInt(b.state.perMinute, 10))
		h.Set(prefix+"-remaining", strconv.FormatInt(b.state.remaining, 10))
		h.Set(prefix+"-reset", resetTime(snap.now, b.state.untilFull))
	}
}

// resetTime returns the RFC 3339 time, rounded up to the second, at which
// a bucket will be full.
func resetTime(now time.Time, untilFull time.Duration) string {
	t := now.Add(untilFull)
	if u := t.Truncate(time.Second); u.Before(t) {
		t = u.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}

func (a anthropicAPI) throttled(w http.ResponseWriter, ref refusal) {
	if d, ok := ref.retryAfter(); ok {
		w.Header().Set("retry-after", strconv.FormatInt(retryAfterSeconds(d), 10))
	}
	a.s.writeJSON(w, http.StatusTooManyRequests, anthropicError("rate_limit_error", a.throttleMessage(ref)), &ref.snap)
}

// throttleMessage words a refusal as the API does.
func (a anthropicAPI) throttleMessage(ref refusal) string {
	const advice = " For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
	unit := map[string]string{
		reasonRequests: "requests",
		reasonInput:    "input tokens",
		reasonOutput:   "output tokens",
		reasonTokens:   "tokens",
	}[ref.reason]
	perMinute := int64(ref.limit.PerMinute())
	switch {
	case ref.reason == reasonConcurrency:
		return "Number of concurrent connections has exceeded your rate limit. Please try again later or contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
	case ref.tooLarge:
		return fmt.Sprintf("This request asks for %d %s, more than your organization's rate limit of %d %s per minute allows at once (at most %v).%s",
			int64(ref.need), unit, perMinute, unit, max(ref.limit.N, 1), advice)
	}
	return fmt.Sprintf("This request would exceed the rate limit for your organization of %d %s per minute.%s", perMinute, unit, advice)
}

func (a anthropicAPI) failStatuses() []int {
	return []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, 529}
}

func (a anthropicAPI) failed(w http.ResponseWriter, status int) {
	kind, msg := "api_error", "Internal server error"
	switch status {
	case http.StatusBadGateway:
		msg = "Bad gateway"
	case http.StatusServiceUnavailable:
		msg = "Service unavailable"
	case 529:
		kind, msg = "overloaded_error", "Overloaded"
	}
	a.s.writeJSON(w, status, anthropicError(kind, msg), nil)
}
