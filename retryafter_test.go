package sluice

import (
	"strings"
	"testing"
	"time"
)

// TestParseRetryAfterLeadingZeros protects a Retry-After written with many
// leading zeros, which is valid (1*DIGIT) and must not be ignored.
func TestParseRetryAfterLeadingZeros(t *testing.T) {
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{strings.Repeat("0", 100) + "30", 30 * time.Second, true},
		{strings.Repeat("0", 100), 0, true},
		{"007", 7 * time.Second, true},
		{"00.5", 500 * time.Millisecond, true},
		{strings.Repeat("0", 100) + "x", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(respHeader("Retry-After", tt.value), headerNow)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%.12q…) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}
