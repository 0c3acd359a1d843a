package mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// openAIAPI speaks OpenAI's chat completions, responses and embeddings
// APIs.
type openAIAPI struct{ s *Server }

func (o openAIAPI) route(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-request-id", o.s.newID("req_", 32))
	var serve func(http.ResponseWriter, *http.Request, []byte)
	switch r.URL.Path {
	case "/v1/chat/completions":
		serve = o.chat
	case "/v1/embeddings":
		serve = o.embeddings
	case "/v1/responses":
		serve = o.responses
	}
	if serve == nil || r.Method != http.MethodPost {
		o.s.invalid(w, http.StatusNotFound, openAIError(fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "", ""))
		return
	}
	body, status, err := readBody(r)
	if err != nil {
		o.s.invalid(w, status, openAIError("Could not read the request body: "+err.Error(), "invalid_request_error", "", ""))
		return
	}
	serve(w, r, body)
}

// badJSON is OpenAI's answer to a body that is not JSON.
const badJSON = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"

// invalid400 answers a request that failed validation.
func (o openAIAPI) invalid400(w http.ResponseWriter, message, param string) {
	o.s.invalid(w, http.StatusBadRequest, openAIError(message, "invalid_request_error", param, ""))
}

// decode reads body into v, answering 400 and reporting false when it
// cannot.
func (o openAIAPI) decode(w http.ResponseWriter, body []byte, v any) bool {
	field, want, err := decodeJSON(body, v)
	switch {
	case err == nil:
		return true
	case field != "":
		o.invalid400(w, fmt.Sprintf("Invalid type for '%s': expected %s.", field, want), field)
	default:
		o.invalid400(w, badJSON, "")
	}
	return false
}

// chatRequest is the part of a chat completion request the mock reads.
type chatRequest struct {
	Model               *string        `json:"model"`
	Messages            *[]chatMessage `json:"messages"`
	MaxTokens           *int64         `json:"max_tokens"`
	MaxCompletionTokens *int64         `json:"max_completion_tokens"`
	Stream              bool           `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// chatCompletion is a chat completion response.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             *chatUsage   `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int       `json:"index"`
	Message      chatReply `json:"message"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

type chatReply struct {
	Role        string     `json:"role"`
	Content     string     `json:"content"`
	Refusal     *string    `json:"refusal"`
	Annotations []struct{} `json:"annotations"`
}

type chatUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// chatChunk is one event of a streamed chat completion.
type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint string            `json:"system_fingerprint"`
	ServiceTier       string            `json:"service_tier"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             any               `json:"usage,omitempty"`
}

type chatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        chatDelta `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

func (o openAIAPI) chat(w http.ResponseWriter, r *http.Request, body []byte) {
	var req chatRequest
	if !o.decode(w, body, &req) {
		return
	}
	switch {
	case req.Model == nil || *req.Model == "":
		o.invalid400(w, "you must provide a model parameter", "")
		return
	case req.Messages == nil:
		o.invalid400(w, "Missing required parameter: 'messages'.", "messages")
		return
	case len(*req.Messages) == 0:
		o.invalid400(w, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages")
		return
	}
	prompt := 0
	for i, m := range *req.Messages {
		if !chatRoles[m.Role] {
			o.invalid400(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", m.Role), fmt.Sprintf("messages[%d].role", i))
			return
		}
		prompt += promptBytes(m.Content)
	}
	maxTokens, limited := int64(maxOutput), false
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if f.v == nil {
			continue
		}
		if *f.v < 1 {
			o.invalid400(w, fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", f.name, *f.v), f.name)
			return
		}
		maxTokens, limited = *f.v, true
	}

	c := cost{input: estimateTokens(prompt), output: o.s.drawOutput(maxTokens)}
	if limited {
		c.reserved = maxTokens
	}
	o.s.call(w, r, c, func(p *reply) {
		words := o.s.words(c.output)
		finish := "stop"
		if limited && c.output == maxTokens {
			finish = "length"
		}
		done := chatCompletion{
			ID:      o.s.newID("chatcmpl-", 29),
			Object:  "chat.completion",
			Created: time.Now().Unix(),
			Model:   *req.Model,
			Choices: []chatChoice{{
				Message:      chatReply{Role: "assistant", Content: joinWords(words), Annotations: []struct{}{}},
				FinishReason: finish,
			}},
			Usage:             &chatUsage{PromptTokens: c.input, CompletionTokens: c.output, TotalTokens: c.total()},
			ServiceTier:       "default",
			SystemFingerprint: "fp_mock",
		}
		if req.Stream {
			o.stream(p, done, words, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
			return
		}
		b, _ := json.Marshal(done)
		p.start("application/json")
		p.body(append(b, '\n'), p.generation(c.output))
	})
}

// openAIErrorBody is the API's error shape; param and code are null when
// empty.
type openAIErrorBody struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func openAIError(message, kind, param, code string) openAIErrorBody {
	d := openAIErrorDetail{Message: message, Type: kind}
	if param != "" {
		d.Param = &param
	}
	if code != "" {
		d.Code = &code
	}
	return openAIErrorBody{Error: d}
}

func (o openAIAPI) rateHeaders(h http.Header, snap snapshot) {
	for _, b := range []struct {
		name  string
		state bucketState
	}{{"requests", snap.requests}, {"tokens", snap.tokens}} {
		if !b.state.set {
			continue
		}
		h.Set("x-ratelimit-limit-"+b.name, strconv.FormatInt(b.state.perMinute, 10))
		h.Set("x-ratelimit-remaining-"+b.name, strconv.FormatInt(b.state.remaining, 10))
		h.Set("x-ratelimit-reset-"+b.name, durationUp(b.state.untilFull).String())
	}
}

// durationUp rounds d up to the millisecond, the precision OpenAI's
// durations ("6m0s", "1s", "12ms") have.
func durationUp(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

func (o openAIAPI) throttled(w http.ResponseWriter, ref refusal) {
	if d, ok := ref.retryAfter(); ok {
		w.Header().Set("retry-after", strconv.FormatInt(retryAfterSeconds(d), 10))
		w.Header().Set("retry-after-ms", strconv.FormatInt(max(1, durationUp(d).Milliseconds()), 10))
	}
	var body openAIErrorBody
	const more = " Visit https://platform.openai.com/account/rate-limits to learn more."
	switch ref.reason {
	case reasonQuota:
		body = openAIError("You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", "insufficient_quota", "", "insufficient_quota")
	case reasonConcurrency:
		body = openAIError("Number of concurrent connections has exceeded your rate limit. Please try again later."+more, "requests", "", "rate_limit_exceeded")
	default:
		kind, what := "requests", "requests per min (RPM)"
		if ref.reason == reasonTokens {
			kind, what = "tokens", "tokens per min (TPM)"
		}
		perMinute := int64(ref.limit.PerMinute())
		// Used is said in the limit's units, per minute: the bucket's
		// use, scaled as its limit is, so that Used + Requested exceed
		// Limit in the message as they did in the bucket (outside
		// review: "Limit 120, Used 1, Requested 1" was refused).
		used := int64(float64(max(ref.limit.N, 1)-ref.have) * float64(perMinute) / max(ref.limit.N, 1))
		msg := fmt.Sprintf("Rate limit reached for %s in organization org-mock on %s: Limit %d, Used %d, Requested %d. Please try again in %v.%s",
			kind, what, perMinute, used, int64(ref.need), durationUp(ref.wait), more)
		if ref.tooLarge {
			msg = fmt.Sprintf("Request too large for %s in organization org-mock on %s: Limit %d, Requested %d. The input or output tokens must be reduced in order to run successfully.%s",
				kind, what, perMinute, int64(ref.need), more)
		}
		body = openAIError(msg, kind, "", "rate_limit_exceeded")
	}
	o.s.writeJSON(w, http.StatusTooManyRequests, body, &ref.snap)
}

func (o openAIAPI) failStatuses() []int {
	return []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
}

func (o openAIAPI) failed(w http.ResponseWriter, status int) {
	msg := "The server had an error while processing your request. Sorry about that!"
	switch status {
	case http.StatusBadGateway:
		msg = "Bad gateway."
	case http.StatusServiceUnavailable:
		msg = "The engine is currently overloaded, please try again later."
	}
	o.s.writeJSON(w, status, openAIError(msg, "server_error", "", ""), nil)
}
