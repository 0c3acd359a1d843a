package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sluicehq/sluice"
)

func ExampleEstimateCost() {
	body := []byte(`{
		"model": "claude-sonnet-4-5",
		"max_tokens": 1024,
		"system": "Answer in one word.",
		"messages": [{"role": "user", "content": "What is the capital of France?"}]
	}`)
	c, ok := sluice.EstimateCost("POST", "/v1/messages", body)
	fmt.Println(ok, c.InputTokens, c.OutputTokens)

	// Embeddings ask for no output.
	c, ok = sluice.EstimateCost("POST", "/v1/embeddings", []byte(`{"model":"text-embedding-3-small","input":["to be","or not to be"]}`))
	fmt.Println(ok, c.InputTokens, c.OutputTokens)
	// Output:
	// true 13 1024
	// true 5 0
}

// A token limit needs no Cost function: the Transport estimates the
// Anthropic and OpenAI request bodies, as the SDKs send them.
func ExampleTransport_tokenLimit() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"usage":{"input_tokens":12,"output_tokens":3}}`)
	}))
	defer api.Close()

	tr := &sluice.Transport{
		Limits: sluice.Limits{Tokens: sluice.PerMinute(30000)},
		Usage:  sluice.ScanUsage, // settle each estimate with the real usage
	}
	client := &http.Client{Transport: tr}

	// Charged 8 input and 1024 output tokens, then settled to 12 and 3.
	resp, err := client.Post(api.URL+"/v1/messages", "application/json", strings.NewReader(
		`{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"What is the capital of France?"}]}`))
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	// A body the Transport cannot estimate is refused, unsent.
	_, err = client.Post(api.URL+"/search", "application/json", strings.NewReader(`{"q":"rivers"}`))
	fmt.Println(errors.Is(err, sluice.ErrUnknownCost))

	// Unless its cost is given.
	req, _ := http.NewRequestWithContext(sluice.WithCost(context.Background(), sluice.Cost{InputTokens: 10}),
		"POST", api.URL+"/search", strings.NewReader(`{"q":"rivers"}`))
	resp, err = client.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200
	// true
	// 200
}
