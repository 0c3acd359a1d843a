package sluice_test

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice"
)

// A count the estimate reads (max_tokens and the like) that the APIs
// would refuse is an error naming the field, in every face alike: a
// max_tokens of "ten" was charged as no tokens at all, and one of -5 as
// DefaultOutputTokens, so such requests counted against the budget as if
// they were fine.
func TestEstimateNamesAFieldTheAPIsRefuse(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		want             *sluice.FieldError // nil: estimated
	}{
		{"a string", "/v1/messages", `{"max_tokens":"ten","messages":[]}`,
			&sluice.FieldError{Field: "max_tokens", Value: `"ten"`, Want: "a positive integer"}},
		{"negative", "/v1/messages", `{"max_tokens":-5,"messages":[]}`,
			&sluice.FieldError{Field: "max_tokens", Value: "-5", Want: "a positive integer"}},
		{"zero", "/v1/messages", `{"max_tokens":0,"messages":[]}`,
			&sluice.FieldError{Field: "max_tokens", Value: "0", Want: "a positive integer"}},
		{"a fraction", "/v1/chat/completions", `{"max_completion_tokens":2.5,"messages":[]}`,
			&sluice.FieldError{Field: "max_completion_tokens", Value: "2.5", Want: "a positive integer"}},
		{"an object, shortened", "/v1/responses", `{"input":"x","max_output_tokens":{"a":"0123456789012345678901234567890123456789"}}`,
			&sluice.FieldError{Field: "max_output_tokens", Value: `{"a":"0123456789012345678901234567890123...`, Want: "a positive integer"}},
		{"n a boolean", "/v1/chat/completions", `{"n":true,"messages":[]}`,
			&sluice.FieldError{Field: "n", Value: "true", Want: "a positive integer"}},
		{"the first of two", "", `{"best_of":"x","max_tokens":-1,"prompt":"p"}`,
			&sluice.FieldError{Field: "best_of", Value: `"x"`, Want: "a positive integer"}},
		{"a field the API does not use", "/v1/responses", `{"input":"x","max_tokens":"ten"}`, nil},
		{"none for embeddings", "/v1/embeddings", `{"input":"x","max_tokens":-1,"n":"x"}`, nil},
		{"null", "/v1/messages", `{"max_tokens":null,"messages":[]}`, nil},
		{"an exponent", "/v1/messages", `{"max_tokens":1e3,"messages":[]}`, nil},
		{"past float64", "/v1/messages", `{"max_tokens":1e400,"messages":[]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sluice.Estimate("POST", tc.path, []byte(tc.body))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Estimate: %v, want no error", err)
				}
				return
			}
			var fe *sluice.FieldError
			if !errors.As(err, &fe) || *fe != *tc.want || !errors.Is(err, sluice.ErrUnknownCost) {
				t.Fatalf("Estimate: %#v, want %#v (matching ErrUnknownCost)", err, tc.want)
			}
			if _, ok := sluice.EstimateCost("POST", tc.path, []byte(tc.body)); ok {
				t.Errorf("EstimateCost: ok, want not")
			}
		})
	}
	// A body of no known shape is not an LLM request: its fields say
	// nothing to the estimate.
	_, err := sluice.Estimate("POST", "/v1/other", []byte(`{"max_tokens":"ten"}`))
	var fe *sluice.FieldError
	if !errors.Is(err, sluice.ErrUnknownCost) || errors.As(err, &fe) {
		t.Errorf("unknown shape: %v, want ErrUnknownCost alone", err)
	}
	if got := (&sluice.FieldError{Field: "max_tokens", Value: `"ten"`, Want: "a positive integer"}).Error(); got != `sluice: max_tokens: "ten": want a positive integer` {
		t.Errorf("Error() = %s", got)
	}
}
