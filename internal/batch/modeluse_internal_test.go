package batch

import "testing"

// nearModel suggests, for a name no line goes by, the spelling of a model
// of the input (or of a name that would cover it) that differs from the
// name only by punctuation or case; never a different model.
func TestNearModel(t *testing.T) {
	tests := []struct{ name, model, want string }{
		{"claude-haiku-4.5", "claude-haiku-4-5", "claude-haiku-4-5"},
		{"claude-haiku-4.5", "claude-haiku-4-5-20251001", "claude-haiku-4-5"},
		{"Claude-Haiku-4-5", "claude-haiku-4-5-latest", "claude-haiku-4-5"},
		{"claude_haiku_4", "claude-haiku-4-5", "claude-haiku-4"},
		{"gpt4o", "gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt4o", "gpt-4o-mini", ""}, // gpt-4o does not cover gpt-4o-mini
		{"claude-haiku-4.5", "claude-sonnet-4-5", ""},
		{"claude-haiku-45", "claude-haiku-4", ""},
		{"...", "claude-haiku-4-5", ""},
	}
	for _, tt := range tests {
		if got := nearModel(tt.name, tt.model); got != tt.want {
			t.Errorf("nearModel(%q, %q) = %q; want %q", tt.name, tt.model, got, tt.want)
		}
	}
}
