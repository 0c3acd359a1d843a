package examples_test

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/mock"
	"github.com/sluicehq/sluice/internal/proxy"
)

// startProxy puts `sluice proxy` in front of srv, closed when the test
// ends.
func startProxy(t *testing.T, srv *mock.Server, limits sluice.Limits) *proxy.Server {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy.Server{Addr: "127.0.0.1:0", Routes: []proxy.Route{{Upstream: u, Preset: proxy.Anthropic, Limits: limits}}}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// The official SDK, its base URL pointed at the proxy, unchanged
// otherwise: many concurrent calls over the API's limit all succeed, and
// the API refuses none.
func TestProxyAnthropicSDK(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 3, Requests: mock.Limit{N: 5, Per: 50 * time.Millisecond}})
	p := startProxy(t, srv, sluice.Limits{Rate: sluice.PerSecond(100)})
	client := anthropic.NewClient(option.WithBaseURL(p.URL()), option.WithAPIKey("test"), option.WithMaxRetries(0))

	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = client.Messages.New(t.Context(), newMessage(32))
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

func TestProxyAnthropicSDKStream(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 4, OutputRate: 2000})
	p := startProxy(t, srv, sluice.Limits{})
	client := anthropic.NewClient(option.WithBaseURL(p.URL()), option.WithAPIKey("test"), option.WithMaxRetries(0))

	stream := client.Messages.NewStreaming(t.Context(), newMessage(40))
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text == "" || msg.Usage.OutputTokens == 0 || msg.StopReason == "" {
		t.Errorf("streamed message %+v; want text, usage and a stop reason", msg)
	}
	if st := p.Stats()[0].Gates; st.InFlight != 0 || st.Completed != 1 {
		t.Errorf("proxy gates %+v; want one call completed, none in flight", st)
	}
}

// The SDK says how long it waits (X-Stainless-Timeout, from its request
// timeout), and the proxy answers within it: against an API slower than
// that, the SDK reads the proxy's 504 in the API's style, not its own
// timeout.
func TestProxyAnthropicSDKGetsAnAnswerWithinItsTimeout(t *testing.T) {
	srv := startMock(t, mock.Config{Style: mock.Anthropic, Seed: 5, Latency: mock.FixedLatency(5 * time.Second)})
	p := startProxy(t, srv, sluice.Limits{})
	client := anthropic.NewClient(option.WithBaseURL(p.URL()), option.WithAPIKey("test"),
		option.WithMaxRetries(0), option.WithRequestTimeout(2*time.Second))
	begin := time.Now()
	_, err := client.Messages.New(t.Context(), newMessage(8))
	took := time.Since(begin)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 504 || !strings.Contains(apiErr.Error(), "timeout_error") {
		t.Fatalf("after %v: %v; want the proxy's 504 timeout_error", took, err)
	}
	if took >= 2*time.Second {
		t.Errorf("answered after %v, past the SDK's 2s", took)
	}
}
