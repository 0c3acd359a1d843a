package sluice

import (
	"bytes"
	"encoding/json"
	"math"
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
// ok is false when the request is not one of these: not a POST, not a JSON
// object, or of no known path or shape. The estimate is never negative.
// EstimateCost is safe for concurrent use; it decodes the body once
// without keeping any of it, in about the time encoding/json takes to
// validate it.
func EstimateCost(method, path string, body []byte) (c Cost, ok bool) {
	if method != "POST" {
		return Cost{}, false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Cost{}, false
	}
	var r llmRequest
	if json.Unmarshal(body, &r) != nil {
		return Cost{}, false
	}
	api := apiOfPath(path)
	if api == unknownAPI {
		api = r.shape()
		if api == unknownAPI {
			return Cost{}, false
		}
	}
	in := r.Messages.size + r.System + r.Instructions + quarters(r.Tools+r.Functions+r.ResponseFormat) + r.Input.size + r.Prompt.size
	c.InputTokens = in.tokens()
	switch api {
	case messagesAPI, chatAPI:
		c.OutputTokens = capOr(DefaultOutputTokens, r.MaxCompletionTokens, r.MaxTokens) * r.choices()
	case completionsAPI:
		c.OutputTokens = capOr(completionsDefaultOutput, r.MaxTokens) * r.choices()
	case responsesAPI:
		c.OutputTokens = capOr(DefaultOutputTokens, r.MaxOutputTokens)
	}
	return c, true
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
// Each text field decodes straight to its size (quarters), so nothing of
// the body is kept or copied: this runs for every request.
type llmRequest struct {
	Messages       field    `json:"messages"`
	System         quarters `json:"system"`       // Anthropic: a string or text blocks
	Instructions   quarters `json:"instructions"` // Responses
	Tools          jsonText `json:"tools"`
	Functions      jsonText `json:"functions"`       // chat's older tool definitions
	ResponseFormat jsonText `json:"response_format"` // chat's JSON schema, read by the model
	Input          field    `json:"input"`           // Responses, Embeddings
	Prompt         field    `json:"prompt"`          // legacy completions

	MaxTokens           *float64 `json:"max_tokens"`
	MaxCompletionTokens *float64 `json:"max_completion_tokens"`
	MaxOutputTokens     *float64 `json:"max_output_tokens"`
	N                   float64  `json:"n"`
	BestOf              float64  `json:"best_of"`

	// Present only to tell a Responses body from an Embeddings one.
	PreviousResponseID field `json:"previous_response_id"`
}

// field is a text field whose presence tells the body's shape: an empty
// "messages": [] is still a chat.
type field struct {
	size quarters
	set  bool
}

func (f *field) UnmarshalJSON(b []byte) error {
	f.set = true
	return f.size.UnmarshalJSON(b)
}

// shape returns the API a body looks like, for a path that says nothing.
func (r *llmRequest) shape() api {
	switch {
	case r.Messages.set:
		return chatAPI
	case r.Prompt.set:
		return completionsAPI
	case r.Input.set:
		if r.Instructions > 0 || r.Tools > 0 || r.MaxOutputTokens != nil || r.PreviousResponseID.set {
			return responsesAPI
		}
		return embeddingsAPI
	}
	return unknownAPI
}

// choices returns how many answers the request asks for, each up to the
// output cap: n or best_of, 1 to 128.
func (r *llmRequest) choices() int {
	n := max(r.N, r.BestOf, 1)
	return int(min(n, 128))
}

// capOr returns the first positive cap, or def when there is none.
func capOr(def int, caps ...*float64) int {
	for _, c := range caps {
		if c != nil && *c > 0 {
			return int(min(*c, math.MaxInt32/128)) // times choices() stays an int32
		}
	}
	return def
}

// quarters is the size of text the model reads, in quarters of a token:
// each ASCII character is one, any other character four. As a JSON field
// it decodes from any value: a string is its text; an array is the sum of
// its elements; an object is a content block or message (the text fields
// it holds, or MediaTokens for an image, file or audio part); a number is
// one token (a token id in a tokenized prompt); null and booleans nothing.
type quarters int64

func (q quarters) tokens() int {
	return int(min((q+3)/4, math.MaxInt32))
}

func (q *quarters) UnmarshalJSON(b []byte) error {
	switch c := b[0]; {
	case c == '"':
		*q = textQuarters(b[1 : len(b)-1])
	case c == '[':
		var elems []quarters
		if err := json.Unmarshal(b, &elems); err != nil {
			return err
		}
		var sum quarters
		for _, e := range elems {
			sum += e
		}
		*q = sum
	case c == '{':
		var p part
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		*q = p.size()
	case c == '-' || c >= '0' && c <= '9':
		*q = 4
	default: // null, true, false
		*q = 0
	}
	return nil
}

// part is a message, a content block or a Responses input item: every
// shape's fields that hold what the model reads, under their names.
type part struct {
	Type      string   `json:"type"`
	Text      quarters `json:"text"`
	Thinking  quarters `json:"thinking"`   // Anthropic thinking blocks sent back
	Content   quarters `json:"content"`    // a message's, a tool result's
	Input     jsonText `json:"input"`      // Anthropic tool_use arguments
	Arguments quarters `json:"arguments"`  // a tool call's arguments, a JSON string
	Function  quarters `json:"function"`   // chat tool_calls[i].function
	ToolCalls quarters `json:"tool_calls"` // chat assistant messages
	Output    quarters `json:"output"`     // Responses function_call_output
}

func (p *part) size() quarters {
	switch p.Type {
	case "image", "image_url", "input_image", "document", "file", "input_file", "input_audio", "audio":
		return 4 * MediaTokens
	}
	return p.Text + p.Thinking + p.Content + quarters(p.Input) + p.Arguments + p.Function + p.ToolCalls + p.Output
}

// jsonText is the size of a JSON value counted as text, as the model reads
// a tool's schema or a tool call's arguments.
type jsonText quarters

func (q *jsonText) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*q = 0
		return nil
	}
	*q = jsonText(textQuarters(b))
	return nil
}

// textQuarters returns the size of s, the inside of a JSON string (or any
// JSON text), without decoding it: an escape is the character it stands
// for, a \u escape of a non-ASCII character (as Python's json sends all
// of them) four, a multi-byte UTF-8 character four.
func textQuarters(s []byte) quarters {
	var n quarters
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == 'u' && i+5 < len(s):
			switch h := s[i+2]; {
			case h == '0' && s[i+3] == '0' && s[i+4] < '8': // below U+0080
				n++
			case h|0x20 == 'd' && s[i+3]|0x20 >= 'c' && s[i+3]|0x20 <= 'f':
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
	return n
}
