package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/sluicehq/sluice"
)

// Example_anthropicSDK sends three messages at once with the official
// Anthropic Go SDK through a sluice.Transport. The API (a fake one on
// loopback) throttles the first request with a 429 and retry-after: 1;
// sluice pauses every caller for that second, retries the throttled call
// through the gate, and learns the account's rate from the
// anthropic-ratelimit-requests-* headers.
func Example_anthropicSDK() {
	api := newFakeAnthropic(1000) // 1000 requests a minute, like a tier-2 key
	defer api.Close()

	tr := &sluice.Transport{Limits: sluice.Limits{
		Concurrency: 4,
		// What we believe the key allows. The limit the API reports in its
		// headers is learned too, and a learned limit only ever tightens.
		Rate: sluice.PerMinute(4000),
	}}
	defer tr.CloseIdleConnections()

	client := anthropic.NewClient(
		option.WithBaseURL(api.URL),
		option.WithAPIKey("test"),
		option.WithHTTPClient(&http.Client{Transport: tr}),
		// The SDK retries twice by default, above the transport: its
		// retries would skip the gate's pause and pacing and multiply with
		// sluice's. Turned off, every retry goes back through the gate.
		option.WithMaxRetries(0),
	)

	prompts := []string{"ping", "hello", "how are you?"}
	replies := make([]string, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, prompt := range prompts {
		wg.Go(func() {
			msg, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
				Model:     anthropic.ModelClaudeSonnet4_6,
				MaxTokens: 64,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
			})
			if err != nil {
				errs[i] = err
				return
			}
			replies[i] = msg.Content[0].Text
		})
	}
	wg.Wait()

	for i := range prompts {
		if errs[i] != nil {
			fmt.Println("error:", errs[i])
			continue
		}
		fmt.Println(replies[i])
	}

	gate := tr.Gate(api.Listener.Addr().String())
	s := gate.Stats()
	fmt.Printf("the API saw %d requests; the gate admitted %d, throttled %d, paused %d time(s); %d in flight\n",
		api.requests(), s.Admitted, s.Throttled, s.Pauses, s.InFlight)
	fmt.Println("every caller waited out the retry-after:", api.quietAfter429() >= time.Second)
	// sluice paces a learned rate over a period 1% longer than the API's,
	// for the network's jitter, so the period is a little over a minute.
	learned := gate.LearnedRate()
	fmt.Printf("learned %v requests per minute (paced a little slower: %v)\n", learned.N, learned.Per > time.Minute)
	// Output:
	// echo: ping
	// echo: hello
	// echo: how are you?
	// the API saw 4 requests; the gate admitted 4, throttled 1, paused 1 time(s); 0 in flight
	// every caller waited out the retry-after: true
	// learned 1000 requests per minute (paced a little slower: true)
}

// fakeAnthropic is a loopback stand-in for the Messages API: it echoes the
// last user message, sends Anthropic's rate-limit headers with every
// response, and throttles its first request.
type fakeAnthropic struct {
	*httptest.Server
	limit int

	mu        sync.Mutex
	count     int
	throttled time.Time     // when the 429 was sent
	quiet     time.Duration // from the 429 to the next request
}

func newFakeAnthropic(limitPerMinute int) *fakeAnthropic {
	f := &fakeAnthropic{limit: limitPerMinute}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeAnthropic) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.count++
	n := f.count
	switch n {
	case 1:
		f.throttled = time.Now()
	case 2:
		f.quiet = time.Since(f.throttled)
	}
	f.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(f.limit))
	h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(max(f.limit-n, 0)))
	h.Set("anthropic-ratelimit-requests-reset", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))

	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v1/messages":
		apiError(w, http.StatusNotFound, "not_found_error", "no such endpoint")
		return
	case r.Header.Get("X-Api-Key") != "test" && r.Header.Get("Authorization") != "Bearer test" || r.Header.Get("Anthropic-Version") == "":
		// The SDK's v2 sends the key as a bearer token; the API takes both.
		apiError(w, http.StatusUnauthorized, "authentication_error", "missing API key or anthropic-version")
		return
	case n == 1:
		h.Set("Retry-After", "1")
		apiError(w, http.StatusTooManyRequests, "rate_limit_error", "Number of requests has exceeded your per-minute rate limit")
		return
	}

	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		apiError(w, http.StatusBadRequest, "invalid_request_error", "want a JSON body with messages")
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"id":            "msg_" + strconv.Itoa(n),
		"type":          "message",
		"role":          "assistant",
		"model":         req.Model,
		"content":       []map[string]string{{"type": "text", "text": "echo: " + text(req.Messages[len(req.Messages)-1].Content)}},
		"stop_reason":   "end_turn",
		"stop_sequence": nil,
		"usage":         map[string]int{"input_tokens": 10, "output_tokens": 3},
	})
}

// requests returns how many requests reached the API.
func (f *fakeAnthropic) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// quietAfter429 returns how long the API heard nothing after its 429.
func (f *fakeAnthropic) quietAfter429() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quiet
}

// text returns a message's text, whether its content is a string or a
// list of blocks.
func text(content json.RawMessage) string {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s
	}
	var blocks []struct{ Type, Text string }
	json.Unmarshal(content, &blocks)
	for _, b := range blocks {
		if b.Type == "text" {
			s += b.Text
		}
	}
	return s
}

func apiError(w http.ResponseWriter, status int, kind, message string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":  "error",
		"error": map[string]string{"type": kind, "message": message},
	})
}
