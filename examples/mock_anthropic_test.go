package examples_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sluicehq/sluice/internal/mock"
)

// startMock starts a mock API for cfg, closed when the test ends.
func startMock(t *testing.T, cfg mock.Config) *mock.Server {
	t.Helper()
	srv, err := mock.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// anthropicClient talks to srv with the official SDK, retries off.
func anthropicClient(srv *mock.Server) anthropic.Client {
	return anthropic.NewClient(
		option.WithBaseURL(srv.URL()),
		option.WithAPIKey("test"),
		option.WithMaxRetries(0),
	)
}

// prompt is 200 bytes: 50 input tokens by the mock's estimate.
var prompt = strings.Repeat("lock gate ", 20)

func newMessage(maxTokens int64) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeSonnet4_6,
		MaxTokens: maxTokens,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
	}
}

func TestMockAnthropicSDK(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 1, Requests: mock.Limit{N: 10, Per: time.Second}})
	client := anthropicClient(srv)

	resp, err := client.Messages.New(t.Context(), newMessage(64))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Content) != 1 || resp.Content[0].Type != "text" {
		t.Fatalf("content %+v; want one text block", resp.Content)
	}
	words := int64(len(strings.Fields(resp.Content[0].Text)))
	if resp.Usage.InputTokens != 50 || resp.Usage.OutputTokens != words || words < 10 || words > 64 {
		t.Errorf("usage %d in, %d out for %d words; want 50 in, one token a word, 10 to 64", resp.Usage.InputTokens, resp.Usage.OutputTokens, words)
	}
	if resp.Model != anthropic.ModelClaudeSonnet4_6 || resp.Role != "assistant" || !strings.HasPrefix(resp.ID, "msg_") {
		t.Errorf("message %s %s %s", resp.ID, resp.Model, resp.Role)
	}
	if st := srv.Stats(); st.Accepted != 1 || st.InputTokens != 50 || st.OutputTokens != words {
		t.Errorf("mock stats %+v", st)
	}
}

func TestMockAnthropicSDKStream(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 2, OutputRate: 2000})
	client := anthropicClient(srv)

	stream := client.Messages.NewStreaming(t.Context(), newMessage(40))
	var msg anthropic.Message
	var deltas int
	for stream.Next() {
		event := stream.Current()
		if err := msg.Accumulate(event); err != nil {
			t.Fatal(err)
		}
		if event.Type == "content_block_delta" {
			deltas++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 {
		t.Fatalf("content %+v; want one block", msg.Content)
	}
	words := int64(len(strings.Fields(msg.Content[0].Text)))
	if deltas < 3 || words < 10 || msg.Usage.OutputTokens != words || msg.Usage.InputTokens != 50 {
		t.Errorf("%d deltas, %d words, usage %d in %d out; want several deltas and one token a word", deltas, words, msg.Usage.InputTokens, msg.Usage.OutputTokens)
	}
	if msg.StopReason != anthropic.StopReasonEndTurn && msg.StopReason != anthropic.StopReasonMaxTokens {
		t.Errorf("stop reason %q", msg.StopReason)
	}
	if st := srv.Stats(); st.OutputTokens != words {
		t.Errorf("mock counted %d output tokens; the stream carried %d", st.OutputTokens, words)
	}
}

// TestMockAnthropicSDK429 checks that the SDK sees the mock's 429 as the
// API's: status, error type and retry-after.
func TestMockAnthropicSDK429(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.Anthropic, Requests: mock.Limit{N: 1, Per: time.Minute}})
	client := anthropicClient(srv)

	if _, err := client.Messages.New(t.Context(), newMessage(16)); err != nil {
		t.Fatal(err)
	}
	_, err := client.Messages.New(t.Context(), newMessage(16))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("second request: %v; want an *anthropic.Error", err)
	}
	if apiErr.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status %d; want 429", apiErr.StatusCode)
	}
	if got := apiErr.Response.Header.Get("retry-after"); got != "60" {
		t.Errorf("retry-after %q; want 60", got)
	}
	if got := apiErr.Response.Header.Get("anthropic-ratelimit-requests-limit"); got != "1" {
		t.Errorf("requests limit %q; want 1", got)
	}
	if !strings.Contains(apiErr.RawJSON(), `"rate_limit_error"`) {
		t.Errorf("error body %s; want a rate_limit_error", apiErr.RawJSON())
	}
	if st := srv.Stats(); st.Throttled["requests"] != 1 || st.Accepted != 1 {
		t.Errorf("mock stats %+v; want 1 accepted, 1 throttled", st)
	}
}
