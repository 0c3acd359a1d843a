package mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// OpenAI's Responses API (POST /v1/responses): the request's input and
// instructions are the prompt, max_output_tokens bounds the answer, and the
// call is counted against the same request and token limits as a chat
// completion, as OpenAI counts both.

// responsesRequest is the part of a Responses API request the mock reads.
type responsesRequest struct {
	Model           *string         `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    *string         `json:"instructions"`
	MaxOutputTokens *int64          `json:"max_output_tokens"`
	Stream          bool            `json:"stream"`
	Metadata        map[string]any  `json:"metadata"`
}

// responsesInputItem is one item of an input list: a message (with or
// without "type": "message"), or another kind of item, which counts by its
// JSON size.
type responsesInputItem struct {
	Type    string          `json:"type"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// responsesRoles are the roles an input message may have.
var responsesRoles = map[string]bool{"user": true, "assistant": true, "system": true, "developer": true}

// minOutputTokens is the least max_output_tokens the Responses API takes.
const minOutputTokens = 16

// response is a Responses API response object.
type response struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	CreatedAt         int64             `json:"created_at"`
	Status            string            `json:"status"`
	Error             *struct{}         `json:"error"`
	IncompleteDetails *incompleteReason `json:"incomplete_details"`
	Instructions      *string           `json:"instructions"`
	MaxOutputTokens   *int64            `json:"max_output_tokens"`
	Model             string            `json:"model"`
	Output            []responseMessage `json:"output"`
	ParallelToolCalls bool              `json:"parallel_tool_calls"`
	Store             bool              `json:"store"`
	Text              any               `json:"text"`
	ToolChoice        string            `json:"tool_choice"`
	Tools             []struct{}        `json:"tools"`
	Truncation        string            `json:"truncation"`
	Usage             *responseUsage    `json:"usage"`
	Metadata          map[string]any    `json:"metadata"`
}

type incompleteReason struct {
	Reason string `json:"reason"`
}

// responseMessage is an output item of type "message".
type responseMessage struct {
	Type    string         `json:"type"`
	ID      string         `json:"id"`
	Status  string         `json:"status"`
	Role    string         `json:"role"`
	Content []responsePart `json:"content"`
}

type responsePart struct {
	Type        string     `json:"type"`
	Text        string     `json:"text"`
	Annotations []struct{} `json:"annotations"`
}

type responseUsage struct {
	InputTokens         int64            `json:"input_tokens"`
	InputTokensDetails  map[string]int64 `json:"input_tokens_details"`
	OutputTokens        int64            `json:"output_tokens"`
	OutputTokensDetails map[string]int64 `json:"output_tokens_details"`
	TotalTokens         int64            `json:"total_tokens"`
}

// responses serves POST /v1/responses.
func (o openAIAPI) responses(w http.ResponseWriter, r *http.Request, body []byte) {
	var req responsesRequest
	if !o.decode(w, body, &req) {
		return
	}
	if req.Model == nil || *req.Model == "" {
		o.s.invalid(w, http.StatusBadRequest, openAIError("Missing required parameter: 'model'.", "invalid_request_error", "model", "missing_required_parameter"))
		return
	}
	prompt, ok := o.responsesPrompt(w, req.Input)
	if !ok {
		return
	}
	if req.Instructions != nil {
		prompt += len(*req.Instructions)
	}
	maxTokens, limited := int64(maxOutput), false
	if req.MaxOutputTokens != nil {
		if *req.MaxOutputTokens < minOutputTokens {
			o.invalid400(w, fmt.Sprintf("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= %d, but got %d instead.", minOutputTokens, *req.MaxOutputTokens), "max_output_tokens")
			return
		}
		maxTokens, limited = *req.MaxOutputTokens, true
	}

	c := cost{input: estimateTokens(prompt), output: o.s.drawOutput(maxTokens)}
	if limited {
		c.reserved = maxTokens
	}
	o.s.call(w, r, c, func(p *reply) {
		words := o.s.words(c.output)
		done := response{
			ID:                o.s.newID("resp_", 48),
			Object:            "response",
			CreatedAt:         time.Now().Unix(),
			Status:            "completed",
			Instructions:      req.Instructions,
			MaxOutputTokens:   req.MaxOutputTokens,
			Model:             *req.Model,
			ParallelToolCalls: true,
			Store:             true,
			Text:              map[string]any{"format": map[string]string{"type": "text"}},
			ToolChoice:        "auto",
			Tools:             []struct{}{},
			Truncation:        "disabled",
			Output: []responseMessage{{
				Type: "message", ID: o.s.newID("msg_", 48), Status: "completed", Role: "assistant",
				Content: []responsePart{{Type: "output_text", Text: joinWords(words), Annotations: []struct{}{}}},
			}},
			Usage: &responseUsage{
				InputTokens: c.input, InputTokensDetails: map[string]int64{"cached_tokens": 0},
				OutputTokens: c.output, OutputTokensDetails: map[string]int64{"reasoning_tokens": 0},
				TotalTokens: c.total(),
			},
			Metadata: req.Metadata,
		}
		if done.Metadata == nil {
			done.Metadata = map[string]any{}
		}
		if limited && c.output == maxTokens {
			done.Status, done.IncompleteDetails = "incomplete", &incompleteReason{"max_output_tokens"}
			done.Output[0].Status = "incomplete"
		}
		if req.Stream {
			o.streamResponse(p, done, words)
			return
		}
		b, _ := json.Marshal(done)
		p.start("application/json")
		p.body(append(b, '\n'), p.generation(c.output))
	})
}

// responsesPrompt returns the bytes of prompt text in a request's input (a
// string, or a list of items), answering 400 and reporting false when the
// input is missing or malformed.
func (o openAIAPI) responsesPrompt(w http.ResponseWriter, input json.RawMessage) (int, bool) {
	if len(input) == 0 || string(input) == "null" {
		o.invalid400(w, "Missing required parameter: 'input'.", "input")
		return 0, false
	}
	var s string
	if json.Unmarshal(input, &s) == nil {
		return len(s), true
	}
	var items []responsesInputItem
	if json.Unmarshal(input, &items) != nil {
		o.invalid400(w, "Invalid type for 'input': expected one of a string or array of input items.", "input")
		return 0, false
	}
	if len(items) == 0 {
		o.invalid400(w, "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.", "input")
		return 0, false
	}
	var raw []json.RawMessage
	json.Unmarshal(input, &raw) // an array already, as items decoded
	n := 0
	for i, it := range items {
		if it.Type != "" && it.Type != "message" {
			n += len(raw[i]) // a tool call or its output: counted by size
			continue
		}
		if !responsesRoles[it.Role] {
			o.invalid400(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", it.Role), fmt.Sprintf("input[%d].role", i))
			return 0, false
		}
		n += promptBytes(it.Content)
	}
	return n, true
}

// streamResponse answers a Responses API request with "stream": true, in
// the API's events: response.created, response.in_progress,
// response.output_item.added, response.content_part.added, one
// response.output_text.delta per chunk of words (paced by the output rate),
// response.output_text.done, response.content_part.done,
// response.output_item.done, and response.completed (or
// response.incomplete) carrying the whole response with its usage. Every
// event has a sequence_number, counting from 0.
func (o openAIAPI) streamResponse(p *reply, done response, words []string) {
	pieces := chunks(words)
	e := startSSE(p, len(pieces)+8)
	type obj = map[string]any
	seq := 0
	send := func(event string, data obj) bool {
		data["type"], data["sequence_number"] = event, seq
		seq++
		return e.send(event, data)
	}

	pending := done
	pending.Status, pending.IncompleteDetails, pending.Usage = "in_progress", nil, nil
	pending.Output = []responseMessage{}
	msg := done.Output[0]
	item := msg
	item.Status, item.Content = "in_progress", []responsePart{}
	part := msg.Content[0]
	emptyPart := part
	emptyPart.Text = ""
	at := obj{"item_id": msg.ID, "output_index": 0, "content_index": 0}
	with := func(kv obj) obj {
		for k, v := range at {
			kv[k] = v
		}
		return kv
	}
	if !send("response.created", obj{"response": pending}) ||
		!send("response.in_progress", obj{"response": pending}) ||
		!send("response.output_item.added", obj{"output_index": 0, "item": item}) ||
		!send("response.content_part.added", with(obj{"part": emptyPart})) {
		return
	}
	for i, piece := range pieces {
		if !e.generate(min(wordsPerChunk, len(words)-i*wordsPerChunk)) ||
			!send("response.output_text.delta", with(obj{"delta": piece, "logprobs": []struct{}{}})) {
			return
		}
	}
	last := "response.completed"
	if done.Status == "incomplete" {
		last = "response.incomplete"
	}
	_ = send("response.output_text.done", with(obj{"text": part.Text, "logprobs": []struct{}{}})) &&
		send("response.content_part.done", with(obj{"part": part})) &&
		send("response.output_item.done", obj{"output_index": 0, "item": msg}) &&
		send(last, obj{"response": done})
}
