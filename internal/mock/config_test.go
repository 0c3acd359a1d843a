package mock

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantField string // the field the error must name
	}{
		{"unknown style", Config{Style: "gemini"}, "Style"},
		{"negative requests", Config{Requests: Limit{-1, time.Second}}, "Requests"},
		{"requests without period", Config{Requests: Limit{5, 0}}, "Requests"},
		{"infinite tokens", Config{Style: OpenAI, Tokens: Limit{math.Inf(1), time.Second}}, "Tokens"},
		{"NaN input", Config{Style: Anthropic, InputTokens: Limit{math.NaN(), time.Second}}, "InputTokens"},
		{"output period too long", Config{Style: Anthropic, OutputTokens: Limit{1, 400 * 24 * time.Hour}}, "OutputTokens"},
		{"negative concurrency", Config{Concurrency: -1}, "Concurrency"},
		{"negative output rate", Config{Style: Anthropic, OutputRate: -1}, "OutputRate"},
		{"NaN output rate", Config{Style: Anthropic, OutputRate: math.NaN()}, "OutputRate"},
		{"negative quota", Config{Style: OpenAI, Quota: -1}, "Quota"},
		{"fail above 1", Config{Fail: 1.5}, "Fail"},
		{"NaN resets", Config{Resets: math.NaN()}, "Resets"},
		{"negative slow bodies", Config{SlowBodies: -0.1}, "SlowBodies"},
		{"fail and resets above 1", Config{Fail: 0.6, Resets: 0.6}, "Fail"},
		{"anthropic quota", Config{Style: Anthropic, Quota: 10}, "Quota"},
		{"openai input tokens", Config{Style: OpenAI, InputTokens: Limit{1, time.Second}}, "InputTokens"},
		{"openai output tokens", Config{Style: OpenAI, OutputTokens: Limit{1, time.Second}}, "OutputTokens"},
		{"generic tokens", Config{Style: Generic, Tokens: Limit{1, time.Second}}, "Tokens"},
		{"generic output rate", Config{OutputRate: 5}, "OutputRate"},
		{"generic quota", Config{Quota: 5}, "Quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) = nil error; want one naming %s", tt.cfg, tt.wantField)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "mock: "+tt.wantField+":") {
				t.Errorf("New error %q; want it to start with %q", msg, "mock: "+tt.wantField+":")
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Style: Anthropic, Requests: Limit{50, time.Minute}, InputTokens: Limit{40000, time.Minute}, OutputTokens: Limit{8000, time.Minute}, Concurrency: 4, OutputRate: 80, Fail: 0.5, Resets: 0.5, SlowBodies: 1, Seed: 7},
		{Style: Anthropic, Tokens: Limit{1000, time.Minute}, InputTokens: Limit{500, time.Minute}}, // Tokens ignored
		{Style: OpenAI, Requests: Limit{500, time.Minute}, Tokens: Limit{30000, time.Minute}, Quota: 1e6},
		{Style: Generic, Requests: Limit{0.5, time.Second}, Concurrency: 1},
	} {
		s, err := New(cfg)
		if err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
			continue
		}
		s.Close()
	}
}
