package sluice

import (
	"bytes"
	"encoding/json"
	"strings"
)

// quotaCodes are the error codes and types with which APIs say an
// account's quota or spend is exhausted, lower-cased.
var quotaCodes = map[string]bool{
	"insufficient_quota":         true,
	"billing_hard_limit_reached": true,
	"quota_exceeded":             true,
}

// quotaOpenings are how those APIs' error messages begin when they say
// so, lower-cased: Anthropic's empty credit balance comes as a 400
// invalid_request_error that only its message tells apart.
var quotaOpenings = []string{
	"your credit balance is too low",
	"you exceeded your current quota",
	"you have reached your spend limit",
	"billing hard limit has been reached",
}

// quotaEnvelope reports whether body is a JSON error envelope (OpenAI's
// {"error":{...}}, Anthropic's {"type":"error","error":{...}}, or the
// fields at the top) whose code or type is a quota code, or whose message
// opens with a quota phrase. Text the message quotes further on (the
// request it refuses) does not count.
func quotaEnvelope(body []byte) bool {
	if !mentionsQuota(body) {
		return false // most 400s: no JSON parsed
	}
	var env struct {
		envelopeFields
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return false
	}
	var inner envelopeFields
	if len(env.Error) > 0 && env.Error[0] == '{' {
		if json.Unmarshal(env.Error, &inner) != nil {
			return false
		}
	}
	return env.says() || inner.says()
}

// envelopeFields are the fields of an error envelope that say what the
// error is. Code is a string in OpenAI's envelope and a number in some
// others (Google's 429), which then says nothing here.
type envelopeFields struct {
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
}

func (f envelopeFields) says() bool {
	var code string
	_ = json.Unmarshal(f.Code, &code)
	if quotaCodes[strings.ToLower(f.Type)] || quotaCodes[strings.ToLower(code)] {
		return true
	}
	msg := bytes.ToLower(bytes.TrimSpace([]byte(f.Message)))
	for _, o := range quotaOpenings {
		if bytes.HasPrefix(msg, []byte(o)) {
			return true
		}
	}
	return false
}
