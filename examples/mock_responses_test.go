package examples_test

import (
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/sluicehq/sluice/internal/mock"
)

// The mock's /v1/responses is read by the official SDK, whole and
// streamed, with the usage it reports.
func TestMockOpenAIResponsesSDK(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 3})
	client := openAIClient(srv)
	params := responses.ResponseNewParams{
		Model:           openai.ChatModelGPT4oMini,
		MaxOutputTokens: openai.Int(48),
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)},
	}

	resp, err := client.Responses.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	words := int64(len(strings.Fields(resp.OutputText())))
	u := resp.Usage
	if u.InputTokens != 50 || u.OutputTokens != words || u.TotalTokens != 50+words || words < 10 || words > 48 {
		t.Errorf("usage %d+%d=%d for %d words; want 50 input tokens, one token a word", u.InputTokens, u.OutputTokens, u.TotalTokens, words)
	}
	if !strings.HasPrefix(resp.ID, "resp_") || resp.Model != openai.ChatModelGPT4oMini {
		t.Errorf("response %s %s", resp.ID, resp.Model)
	}

	stream := client.Responses.NewStreaming(t.Context(), params)
	var text strings.Builder
	var last responses.Response
	for stream.Next() {
		switch e := stream.Current(); e.Type {
		case "response.output_text.delta":
			text.WriteString(e.Delta)
		case "response.completed", "response.incomplete":
			last = e.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.Len() == 0 || last.OutputText() != text.String() {
		t.Errorf("the deltas say %q, the last event %q", text.String(), last.OutputText())
	}
	if last.Usage.InputTokens != 50 || last.Usage.OutputTokens != int64(len(strings.Fields(text.String()))) {
		t.Errorf("streamed usage %+v", last.Usage)
	}
}
