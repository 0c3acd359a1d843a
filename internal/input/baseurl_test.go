package input

import (
	"strings"
	"testing"
)

// TestBaseURLWithOrWithoutV1 protects the /v1/v1 404s: a base URL given
// as the SDKs take it, with or without a trailing /v1, reaches the same
// endpoint.
func TestBaseURLWithOrWithoutV1(t *testing.T) {
	for _, tc := range []struct {
		format Format
		base   string
		line   string
		want   string
	}{
		{FormatAnthropic, "http://h:1", `{"custom_id":"a","params":{}}`, "http://h:1/v1/messages"},
		{FormatAnthropic, "http://h:1/v1", `{"custom_id":"a","params":{}}`, "http://h:1/v1/messages"},
		{FormatAnthropic, "http://h:1/v1/", `{"custom_id":"a","params":{}}`, "http://h:1/v1/messages"},
		{FormatAnthropic, "http://h:1/proxy", `{"custom_id":"a","params":{}}`, "http://h:1/proxy/v1/messages"},
		{FormatOpenAI, "http://h:1", `{"custom_id":"a","url":"/v1/chat/completions","body":{}}`, "http://h:1/v1/chat/completions"},
		{FormatOpenAI, "http://h:1/v1", `{"custom_id":"a","url":"/v1/chat/completions","body":{}}`, "http://h:1/v1/chat/completions"},
		{FormatHTTP, "http://h:1/v1", `{"id":"a","url":"/v1/embeddings"}`, "http://h:1/v1/embeddings"},
		{FormatHTTP, "http://h:1/v1", `{"id":"a","url":"/embeddings"}`, "http://h:1/v1/embeddings"},
		{FormatHTTP, "http://h:1/v1", `{"id":"a","url":"/v10/x"}`, "http://h:1/v1/v10/x"},
	} {
		r, err := NewReader(strings.NewReader(tc.line+"\n"), Options{Format: tc.format, BaseURL: tc.base})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.format, tc.base, err)
		}
		it, err := r.Next()
		if err != nil {
			t.Fatalf("%s %s: %v", tc.format, tc.base, err)
		}
		if got := it.URL; got != tc.want {
			t.Errorf("%s base %s: URL %s, want %s", tc.format, tc.base, got, tc.want)
		}
		if got := it.ParsedURL().String(); got != tc.want {
			t.Errorf("%s base %s: parsed URL %s, want %s", tc.format, tc.base, got, tc.want)
		}
	}
}
