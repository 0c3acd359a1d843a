package examples_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// startOpenAIProxy puts `sluice proxy`, OpenAI preset, in front of srv,
// closed when the test ends, and returns the official SDK pointed at it.
func startOpenAIProxy(t *testing.T, srv *mock.Server, limits sluice.Limits) (*proxy.Server, openai.Client) {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Upstream: u, Preset: proxy.OpenAI, Limits: limits}}}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	client := openai.NewClient(option.WithBaseURL(p.URL()+"/v1/"), option.WithAPIKey("test"), option.WithMaxRetries(0))
	return p, client
}

// The official OpenAI SDK, its base URL pointed at the proxy, unchanged
// otherwise: many concurrent calls over the API's request and token
// limits all succeed, and the API refuses none.
func TestProxyOpenAISDK(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 3,
		Requests: mock.Limit{N: 5, Per: 50 * time.Millisecond},
		Tokens:   mock.Limit{N: 2000, Per: 100 * time.Millisecond}})
	// The proxy is told the limits (per second), as a user would write
	// them from the API's documentation.
	_, client := startOpenAIProxy(t, srv, sluice.Limits{Rate: sluice.PerSecond(100), Tokens: sluice.PerSecond(20000)})

	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = client.Chat.Completions.New(t.Context(), newChat())
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if st := srv.Stats(); st.ThrottledTotal() != 0 || st.Accepted != int64(len(errs)) {
		t.Errorf("mock: %d accepted, %v throttled; want %d and none", st.Accepted, st.Throttled, len(errs))
	}
}

// The SDK reads the proxy's own refusal as it reads the API's: a 429
// *openai.Error with OpenAI's type and code.
func TestProxyOpenAISDKReadsTheProxysRefusal(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 3})
	_, client := startOpenAIProxy(t, srv, sluice.Limits{Rate: sluice.Rate{N: 1, Per: time.Hour}})

	if _, err := client.Chat.Completions.New(t.Context(), newChat()); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	_, err := client.Chat.Completions.New(t.Context(), newChat(), option.WithResponseInto(&resp))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("over the limit: %v; want an *openai.Error", err)
	}
	if apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Type != "rate_limit_error" || apiErr.Code != "rate_limit_exceeded" ||
		!strings.Contains(apiErr.Message, "sluice proxy") {
		t.Errorf("error %d %q %q %q; want the proxy's 429 rate_limit_exceeded", apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Message)
	}
	if resp == nil || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit") == "" {
		t.Errorf("response %v; want Retry-After and RateLimit headers", resp)
	}
	if st := srv.Stats(); st.Requests != 1 {
		t.Errorf("mock saw %d requests, want the first only", st.Requests)
	}
}

// A stream through the proxy, under a token limit, reaches the SDK whole,
// usage included, and frees its slot when it ends.
func TestProxyOpenAISDKStream(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.OpenAI, Seed: 4, OutputRate: 2000})
	p, client := startOpenAIProxy(t, srv, sluice.Limits{Tokens: sluice.Rate{N: 1000, Per: time.Hour}})

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
	words := int64(len(strings.Fields(acc.Choices[0].Message.Content)))
	if chunks < 4 || words < 10 || acc.Usage.CompletionTokens != words || acc.Usage.PromptTokens != 50 {
		t.Errorf("%d chunks, %d words, usage %+v; want several chunks and one token a word", chunks, words, acc.Usage)
	}
	// The proxy ends the call as its handler returns, which may be a
	// moment after the SDK has read the stream's end.
	deadline := time.Now().Add(5 * time.Second)
	st := p.Stats()[0].Gates
	for (st.InFlight != 0 || st.Completed != 1) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		st = p.Stats()[0].Gates
	}
	if st.InFlight != 0 || st.Completed != 1 {
		t.Errorf("proxy gates %+v; want one call completed, none in flight", st)
	}
}
