package sluice

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// DefaultOutputTokens is the output charged for a chat-style request that
// sets no cap on its output (max_tokens, max_completion_tokens or
// max_output_tokens). The API may then write up to the model's limit, which
// the request does not say; 4096 is a common answer length, and the charge
// is only a first guess: when the Transport reads the real usage
// (Transport.Usage) the budget is settled with it, so guessing high slows
// the first calls a little while guessing low would overrun the API's
// limit.
const DefaultOutputTokens = 4096

// completionsDefaultOutput is the output charged for a legacy Completions
// request without max_tokens: OpenAI's own default for it is 16.
const completionsDefaultOutput = 16

// MediaTokens is the input charged for each image, file, document or audio
// part of a request, in place of its size: base64 data says little about
// what the model reads. About what one large image costs on both APIs
// (Anthropic: width×height/750, at most about 1600; OpenAI: up to about
// 1100 at high detail); a many-page PDF costs more, and settling with the
// real usage corrects it.
const MediaTokens = 1600

// EstimateCost estimates the tokens an LLM request will use, before it is
// sent, from its method, URL path and JSON body. It knows the request
// bodies of the Anthropic Messages API and of the OpenAI Chat Completions,
// Completions, Responses and Embeddings APIs, by the path's end
// (/messages, /chat/completions, /completions, /responses, /embeddings,
// after any base path such as /v1 or an Azure deployment). For other paths
// (a gateway, a cloud provider's invoke URL, or "" when the path is not
// known) it goes by the body's shape: "messages" is a chat request,
// "prompt" a legacy completion, and "input" a Responses request when it
// also has instructions, tools, max_output_tokens or previous_response_id,
// else an embeddings request.
//
// Input tokens are the text the model reads over four (a rule of thumb for
// English and code), counting each character outside ASCII as a whole
// token (CJK text runs near one a character): message contents and text
// parts, the system prompt or instructions, tool and function definitions,
// tool calls and their results, and a Responses or Embeddings "input" (a
// token array counts one a number). Each image, file or audio part is
// MediaTokens. Model names, metadata and other settings are not counted.
//
// Output tokens are the most the request allows: max_tokens (Anthropic,
// legacy completions), max_completion_tokens or max_tokens (chat),
// max_output_tokens (Responses), times n (or best_of) when a request asks
// for several choices, and 0 for embeddings. A chat-style request without a
// cap is charged DefaultOutputTokens.
//
// Endpoints that use none of the model's tokens cost none, whatever their
// body (ok, and the zero Cost): counting tokens (/v1/messages/count_tokens,
// /v1/responses/input_tokens), the batch APIs (/v1/messages/batches,
// /v1/batches) and file uploads (/v1/files). A cap too large to believe
// saturates at math.MaxInt32 tokens.
//
// ok is false when the request is not one of these: not a POST, not a JSON
// object, or of no known path or shape; or when a field the estimate
// reads holds what the APIs refuse (see [Estimate], which says which).
// The estimate is never negative. EstimateCost is safe for concurrent
// use; it decodes the body once without keeping any of it, in about the
// time encoding/json takes to validate it.
func EstimateCost(method, path string, body []byte) (c Cost, ok bool) {
	c, err := Estimate(method, path, body)
	return c, err == nil
}

// Estimate is [EstimateCost] saying why a request cannot be estimated:
// ErrUnknownCost when it is not a request EstimateCost knows, and a
// *[FieldError] (which matches ErrUnknownCost too) when it is one, but
// a field the estimate reads for its API is not what the APIs accept:
// max_tokens, max_completion_tokens, max_output_tokens, n or best_of
// present and neither null nor a positive integer ("ten", -5, 0, 2.5). Charging such
// a request the default, or nothing, would let a request the API refuses
// count against the budget as if it were fine, and differently in each
// face; every face asks here instead, and reports the field.
func Estimate(method, path string, body []byte) (Cost, error) {
	if method != "POST" {
		return Cost{}, ErrUnknownCost
	}
	if freeAPI(path) {
		return Cost{}, nil
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Cost{}, ErrUnknownCost
	}
	// Validating first lets the walk below assume well-formed JSON.
	if !json.Valid(body) {
		return Cost{}, ErrUnknownCost
	}
	var r llmRequest
	r.read(body)
	api := apiOfPath(path)
	if api == unknownAPI {
		api = r.shape()
		if api == unknownAPI {
			return Cost{}, ErrUnknownCost
		}
	}
	for _, bad := range r.bad {
		if api.reads(bad.Field) {
			return Cost{}, bad
		}
	}
	// Only a path names the provider: a chat-shaped body on another path
	// (a cloud's gateway to Claude) keeps the refund.
	c := Cost{NoRefund: apiOfPath(path).chargesWhole()}
	in := r.messages + r.system + r.instructions + r.tools + r.input + r.prompt
	c.InputTokens = in.tokens()
	switch api {
	case messagesAPI, chatAPI:
		c.OutputTokens = saturate(capOr(DefaultOutputTokens, r.maxCompletionTokens, r.maxTokens) * r.choices())
	case completionsAPI:
		c.OutputTokens = saturate(capOr(completionsDefaultOutput, r.maxTokens) * r.choices())
	case responsesAPI:
		c.OutputTokens = saturate(capOr(DefaultOutputTokens, r.maxOutputTokens))
	}
	return c, nil
}

// FieldError is a field of a request body that the token estimate reads
// and that holds a value the APIs refuse, such as "max_tokens": "ten".
// [Estimate] returns it; errors.Is(err, ErrUnknownCost) holds for it.
type FieldError struct {
	Field string // the member's name, such as "max_tokens"
	Value string // its JSON value as written, shortened when long
	Want  string // what the field must be, such as "a positive integer"
}

// Error returns "sluice: max_tokens: "ten": want a positive integer".
func (e *FieldError) Error() string {
	return "sluice: " + e.Field + ": " + e.Value + ": want " + e.Want
}

// Unwrap returns ErrUnknownCost: the request's cost cannot be estimated.
func (e *FieldError) Unwrap() error { return ErrUnknownCost }

// fieldValueMax is the longest value a FieldError quotes whole.
const fieldValueMax = 40

// freeAPI reports whether path names an endpoint that uses no tokens of
// the model's rate limits, whatever its body says: Anthropic's
// /v1/messages/count_tokens and OpenAI's /v1/responses/input_tokens count
// a request's tokens for free, under request limits of their own; the
// Message Batches (/v1/messages/batches) and Batch (/v1/batches) APIs are
// limited by their own queues, not by the per-minute token limits; and
// uploading a file (/v1/files) runs no model. Without this the count
// endpoints, whose bodies are shaped like a message, were charged as one
// with DefaultOutputTokens, and the others were refused under a token
// limit as requests of unknown cost.
func freeAPI(path string) bool {
	path = strings.TrimSuffix(path, "/")
	return endsWithSegments(path, "messages/count_tokens") ||
		endsWithSegments(path, "responses/input_tokens") ||
		endsWithSegments(path, "messages/batches") ||
		endsWithSegments(path, "batches") ||
		endsWithSegments(path, "files")
}

// api is a request shape EstimateCost knows.
type api int

const (
	unknownAPI api = iota
	messagesAPI
	chatAPI
	completionsAPI
	responsesAPI
	embeddingsAPI
)

// reads reports whether the estimate of a request to a uses the count
// field: a field the API has no use for is not the estimate's to refuse.
func (a api) reads(field string) bool {
	switch a {
	case messagesAPI, chatAPI:
		return field != "max_output_tokens"
	case completionsAPI:
		return field == "max_tokens" || field == "n" || field == "best_of"
	case responsesAPI:
		return field == "max_output_tokens"
	}
	return false
}

// chargesWhole reports whether the API counts a request's estimate (its
// max_tokens and prompt) against its token limit whatever the answer
// used: OpenAI's do ("the maximum of max_tokens and the estimated number
// of tokens based on the character count of your request", its rate
// limit guide); Anthropic's Messages API estimates output from max_tokens
// and settles with what was used.
func (a api) chargesWhole() bool { return a != messagesAPI && a != unknownAPI }

// apiOfPath returns the API a URL path names by its last segments.
func apiOfPath(path string) api {
	path = strings.TrimSuffix(path, "/")
	switch {
	case endsWithSegments(path, "chat/completions"):
		return chatAPI
	case endsWithSegments(path, "completions"):
		return completionsAPI
	case endsWithSegments(path, "messages"):
		return messagesAPI
	case endsWithSegments(path, "responses"):
		return responsesAPI
	case endsWithSegments(path, "embeddings"):
		return embeddingsAPI
	}
	return unknownAPI
}

// endsWithSegments reports whether path ends with the whole segments s:
// "/v1/messages" ends with "messages", "/v1/mymessages" does not.
func endsWithSegments(path, s string) bool {
	return strings.HasSuffix(path, s) && (len(path) == len(s) || path[len(path)-len(s)-1] == '/')
}

// llmRequest holds what the estimate needs of any of the request bodies.
type llmRequest struct {
	// The text the model reads, by field.
	messages, system, instructions, tools, input, prompt quarters
	// The output caps, 0 when absent, and the number of answers.
	maxTokens, maxCompletionTokens, maxOutputTokens, n, bestOf float64
	// Which fields were there, for the shape: "messages": [] is still a
	// chat.
	hasMessages, hasPrompt, hasInput, hasMaxOutput, hasPrevious bool
	// bad are the caps, n and best_of that are neither null nor a
	// positive integer, in the body's order; the API decides which of
	// them matter.
	bad []*FieldError
}

// read walks body, valid JSON holding an object, once, and keeps what the
// estimate needs, noting in r.bad a count that is not a positive integer.
//
// A walk of its own rather than encoding/json: decoding the polymorphic
// fields (a string or blocks, an item or a message) through Unmarshalers
// validates each nested value again, and took three times as long as
// decoding the whole body into a map; this runs for every request.
func (r *llmRequest) read(body []byte) {
	w := walker{b: body}
	count := func(name string, f *float64) {
		start := w.i
		if !w.count(f) {
			v := string(w.b[start:w.i])
			if len(v) > fieldValueMax {
				v = v[:fieldValueMax] + "..."
			}
			r.bad = append(r.bad, &FieldError{Field: name, Value: v, Want: "a positive integer"})
		}
	}
	w.object(func(key []byte) {
		switch string(key) {
		case "messages":
			r.messages, r.hasMessages = w.content(), true
		case "system":
			r.system = w.content()
		case "instructions":
			r.instructions = w.content()
		case "input":
			r.input, r.hasInput = w.content(), true
		case "prompt":
			r.prompt, r.hasPrompt = w.content(), true
		case "tools", "functions", "response_format": // definitions and schemas, read as text
			r.tools += w.jsonText()
		case "previous_response_id":
			r.hasPrevious = true
			w.skip()
		case "max_tokens":
			count("max_tokens", &r.maxTokens)
		case "max_completion_tokens":
			count("max_completion_tokens", &r.maxCompletionTokens)
		case "max_output_tokens":
			r.hasMaxOutput = true
			count("max_output_tokens", &r.maxOutputTokens)
		case "n":
			count("n", &r.n)
		case "best_of":
			count("best_of", &r.bestOf)
		default:
			w.skip()
		}
	})
}

// shape returns the API a body looks like, for a path that says nothing.
func (r *llmRequest) shape() api {
	switch {
	case r.hasMessages:
		return chatAPI
	case r.hasPrompt:
		return completionsAPI
	case r.hasInput:
		if r.instructions > 0 || r.tools > 0 || r.hasMaxOutput || r.hasPrevious {
			return responsesAPI
		}
		return embeddingsAPI
	}
	return unknownAPI
}

// choices returns how many answers the request asks for, each up to the
// output cap: n or best_of, 1 to 128.
func (r *llmRequest) choices() float64 {
	return float64(int(min(max(r.n, r.bestOf, 1), 128)))
}

// capOr returns the first positive cap, or def when there is none.
func capOr(def int, caps ...float64) float64 {
	for _, c := range caps {
		if c > 0 {
			return c
		}
	}
	return float64(def)
}

// saturate returns the whole number of tokens in f, at most
// math.MaxInt32: an absurd max_tokens (1e20, 1e300) is charged as the
// most an int holds on every platform, never wraps around, and still
// says how absurd it was up to two billion.
func saturate(f float64) int {
	return int(min(f, math.MaxInt32))
}

// quarters is the size of text the model reads, in quarters of a token:
// each ASCII character is one, any other character four.
type quarters int64

func (q quarters) tokens() int {
	return int(min((q+3)/4, math.MaxInt32))
}

// walker reads valid JSON (json.Valid said so) from b[i:], one value at a
// time. Its recursion is bounded by the nesting json.Valid accepts.
type walker struct {
	b []byte
	i int
}

func (w *walker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// object calls member for each key of the object at w, with w at the
// key's value; member must read the value.
func (w *walker) object(member func(key []byte)) {
	w.space()
	w.i++ // {
	for {
		w.space()
		if w.b[w.i] == '}' {
			w.i++
			return
		}
		if w.b[w.i] == ',' {
			w.i++
			w.space()
		}
		start := w.i + 1
		w.str()
		key := w.b[start : w.i-1]
		w.space()
		w.i++ // :
		w.space()
		member(key)
	}
}

// array calls elem for each element of the array at w, with w at it.
func (w *walker) array(elem func()) {
	w.i++ // [
	for {
		w.space()
		switch w.b[w.i] {
		case ']':
			w.i++
			return
		case ',':
			w.i++
			w.space()
		}
		elem()
	}
}

// str moves past the string at w and returns the size of its text: an
// escape is the character it stands for, a \u escape of a non-ASCII
// character (as Python's json sends all of them) four, a multi-byte UTF-8
// character four.
func (w *walker) str() quarters {
	var n quarters
	s := w.b
	for i := w.i + 1; ; i++ {
		switch c := s[i]; {
		case c == '"':
			w.i = i + 1
			return n
		case c == '\\' && s[i+1] == 'u':
			h, l := s[i+2]|0x20, s[i+3]|0x20 // lower case
			switch {
			case h == '0' && l == '0' && s[i+4] < '8': // below U+0080
				n++
			case h == 'd' && l >= 'c' && l <= 'f':
				// a low surrogate: its high one counted the character
			default:
				n += 4
			}
			i += 5
		case c == '\\':
			n++
			i++
		case c < 0x80:
			n++
		case c >= 0xC0: // a UTF-8 lead byte; continuation bytes count nothing
			n += 4
		}
	}
}

// skip moves past the value at w.
func (w *walker) skip() {
	switch w.b[w.i] {
	case '"':
		w.str()
	case '{':
		w.object(func([]byte) { w.skip() })
	case '[':
		w.array(w.skip)
	default:
		w.scalar()
	}
}

// scalar moves past the number or literal at w and returns it.
func (w *walker) scalar() []byte {
	start := w.i
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return w.b[start:w.i]
		}
		w.i++
	}
	return w.b[start:w.i]
}

// count reads a positive integer at w into f (1e3 is one, as JSON
// allows; one too large for a float64 is +Inf, which saturate bounds),
// leaving f alone for null. It returns false for anything else.
func (w *walker) count(f *float64) bool {
	switch c := w.b[w.i]; {
	case c == '-' || c >= '0' && c <= '9':
		v, _ := strconv.ParseFloat(string(w.scalar()), 64) // valid JSON: only a range error
		if v < 1 || v != math.Trunc(v) {
			return false
		}
		*f = v
		return true
	case c == 'n':
		w.scalar()
		return true
	}
	w.skip()
	return false
}

// jsonText moves past the value at w and returns its size as text, as the
// model reads a tool's schema.
func (w *walker) jsonText() quarters {
	start := w.i
	w.skip()
	var n quarters
	for _, c := range w.b[start:w.i] {
		switch {
		case c < 0x80:
			n++
		case c >= 0xC0:
			n += 4
		}
	}
	if string(w.b[start:w.i]) == "null" {
		return 0
	}
	return n
}

// content moves past the value at w and returns the size of the text in
// it: a string is its text; an array is the sum of its elements; an object
// is a message, a content block or a Responses item (part); a number is
// one token (a token id in a tokenized prompt); null and booleans nothing.
func (w *walker) content() quarters {
	switch c := w.b[w.i]; {
	case c == '"':
		return w.str()
	case c == '[':
		var n quarters
		w.array(func() { n += w.content() })
		return n
	case c == '{':
		return w.part()
	case c == '-' || c >= '0' && c <= '9':
		w.scalar()
		return 4
	}
	w.scalar()
	return 0
}

// part reads a message, a content block or a Responses input item: the
// fields of every shape that hold what the model reads. An image, file,
// document or audio part is MediaTokens, whatever its data.
func (w *walker) part() quarters {
	var n quarters
	media := false
	w.object(func(key []byte) {
		switch string(key) {
		case "type":
			if w.b[w.i] != '"' {
				w.skip()
				break
			}
			start := w.i + 1
			w.str()
			switch string(w.b[start : w.i-1]) {
			case "image", "image_url", "input_image", "document", "file", "input_file", "input_audio", "audio":
				media = true
			}
		case "text", // a text block or part
			"thinking",   // Anthropic thinking sent back
			"content",    // a message's, a tool result's
			"arguments",  // a tool call's, a JSON string
			"function",   // chat tool_calls[i].function
			"tool_calls", // chat assistant messages
			"output":     // Responses function_call_output
			n += w.content()
		case "input": // Anthropic tool_use arguments, an object
			n += w.jsonText()
		default:
			w.skip()
		}
	})
	if media {
		return 4 * MediaTokens
	}
	return n
}
