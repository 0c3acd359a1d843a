package examples_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluicehq/sluice/internal/mock"
)

// openAIClient talks to srv with the official SDK, retries off.
func openAIClient(srv *mock.Server) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(srv.URL()+"/v1/"),
		option.WithAPIKey("test"),
		option.WithMaxRetries(0),
	)
}

func newChat() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:     openai.ChatModelGPT4oMini,
		MaxTokens: openai.Int(48),
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}
}

func TestMockOpenAISDK(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 3})
	client := openAIClient(srv)

	resp, err := client.Chat.Completions.New(t.Context(), newChat())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("choices %+v; want one", resp.Choices)
	}
	words := int64(len(strings.Fields(resp.Choices[0].Message.Content)))
	u := resp.Usage
	if u.PromptTokens != 50 || u.CompletionTokens != words || u.TotalTokens != 50+words || words < 10 || words > 48 {
		t.Errorf("usage %d+%d=%d for %d words; want 50 prompt tokens, one token a word", u.PromptTokens, u.CompletionTokens, u.TotalTokens, words)
	}
	if resp.Model != openai.ChatModelGPT4oMini || !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Errorf("completion %s %s", resp.ID, resp.Model)
	}

	emb, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model: openai.EmbeddingModelTextEmbedding3Small,
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"sluice", prompt}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || len(emb.Data[1].Embedding) == 0 || emb.Usage.PromptTokens != 1+50 {
		t.Errorf("embeddings %d, usage %+v; want 2 vectors and 51 tokens", len(emb.Data), emb.Usage)
	}
}

func TestMockOpenAISDKStream(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 4, OutputRate: 2000})
	client := openAIClient(srv)

	params := newChat()
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("the accumulator refused chunk %+v", stream.Current())
		}
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("choices %+v; want one", acc.Choices)
	}
	words := int64(len(strings.Fields(acc.Choices[0].Message.Content)))
	if chunks < 4 || words < 10 || acc.Usage.CompletionTokens != words || acc.Usage.PromptTokens != 50 {
		t.Errorf("%d chunks, %d words, usage %+v; want several chunks and one token a word", chunks, words, acc.Usage)
	}
	if st := srv.Stats(); st.OutputTokens != words {
		t.Errorf("mock counted %d output tokens; the stream carried %d", st.OutputTokens, words)
	}
}

// TestMockOpenAISDKQuota checks that the SDK sees insufficient_quota as the
// API sends it.
func TestMockOpenAISDKQuota(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Quota: 1})
	client := openAIClient(srv)

	if _, err := client.Chat.Completions.New(t.Context(), newChat()); err != nil {
		t.Fatal(err)
	}
	_, err := client.Chat.Completions.New(t.Context(), newChat())
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("request over quota: %v; want an *openai.Error", err)
	}
	if apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Code != "insufficient_quota" || apiErr.Type != "insufficient_quota" {
		t.Errorf("error %d %q %q; want 429 insufficient_quota", apiErr.StatusCode, apiErr.Code, apiErr.Type)
	}
}
