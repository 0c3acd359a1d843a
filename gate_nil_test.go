package sluice

import (
	"strings"
	"testing"
)

// A nil limit, or a nil pointer to one, panics in NewGate with a message
// naming it, not with a nil dereference at the first admission.
func TestNewGateNamesANilLimit(t *testing.T) {
	for _, tc := range []struct {
		limits []Limit
		want   string
	}{
		{[]Limit{nil}, "limit 0 of 1 is nil (<nil>)"},
		{[]Limit{NewSemaphore(4), (*RateLimiter)(nil)}, "limit 1 of 2 is nil (*sluice.RateLimiter)"},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("NewGate(%v) panicked with %q, want %q", tc.limits, msg, tc.want)
				}
			}()
			NewGate(tc.limits...)
		}()
	}
}
