package sluice

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/internal/apitest"
)

func TestScanUsage(t *testing.T) {
	tests := []struct {
		name, body string
		want       *Usage
	}{
		{"anthropic message", `{"id":"msg_1","type":"message","usage":{"input_tokens":25,"cache_creation_input_tokens":0,"output_tokens":140}}`, &Usage{25, 140}},
		{"openai chat", `{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}`, &Usage{9, 12}},
		{"anthropic stream", "event: message_start\ndata: {\"message\":{\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n" +
			"event: content_block_delta\ndata: {\"delta\":{\"text\":\"hi\"}}\n\n" +
			"event: message_delta\ndata: {\"usage\":{\"output_tokens\":57}}\n\n", &Usage{30, 57}},
		{"spaces", `{"usage": {"prompt_tokens" : 3, "completion_tokens":	4}}`, &Usage{3, 4}},
		// A prompt-cache write counts against Anthropic's input token
		// limit (only reads do not): it was refunded, and the next calls
		// overran the limit (outside review).
		{"anthropic cache write", `{"type":"message","usage":{"input_tokens":12,"cache_creation_input_tokens":50000,"cache_read_input_tokens":0,"output_tokens":5}}`, &Usage{50012, 5}},
		{"anthropic cache read", `{"type":"message","usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":50000,"output_tokens":5}}`, &Usage{12, 5}},
		{"anthropic stream with a cache write", "event: message_start\ndata: {\"message\":{\"usage\":{\"input_tokens\":30,\"cache_creation_input_tokens\":2000,\"output_tokens\":1}}}\n\n" +
			"event: message_delta\ndata: {\"usage\":{\"output_tokens\":57}}\n\n", &Usage{2030, 57}},
		{"none", `{"ok":true}`, nil},
		{"a key in text is not a number", `{"text":"\"input_tokens\" is a field"}`, nil},
	}
	for _, tt := range tests {
		got := ScanUsage(nil, []byte(tt.body), []byte(tt.body))
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("%s: ScanUsage = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestBodySampleKeepsBothEnds(t *testing.T) {
	var s bodySample
	big := strings.Repeat("x", 3*sampleSize)
	s.write([]byte(`{"usage":{"input_tokens":7,`))
	for i := 0; i < len(big); i += 1000 {
		s.write([]byte(big[i:min(i+1000, len(big))]))
	}
	s.write([]byte(`"output_tokens":9}}`))
	head, tail := s.parts()
	if len(head) != sampleSize || len(tail) != sampleSize {
		t.Fatalf("head %d, tail %d bytes; want %d each", len(head), len(tail), sampleSize)
	}
	if got := ScanUsage(nil, head, tail); got == nil || *got != (Usage{7, 9}) {
		t.Fatalf("usage %+v from a body larger than the sample", got)
	}
}

func TestTransportSettlesTokensWithUsage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"usage":{"input_tokens":10,"output_tokens":20}}`)
		})
		tr := &Transport{
			Base:   apitest.RoundTripper{Handler: h},
			Limits: Limits{OutputTokens: Rate{N: 1000, Per: 10 * time.Second}},
			Cost:   func(*http.Request) Cost { return Cost{InputTokens: 10, OutputTokens: 900} },
			Usage:  ScanUsage,
		}
		client := &http.Client{Transport: tr}
		begin := time.Now()
		for range 3 { // 3 × 900 estimated would not fit in 1000; 3 × 20 used does
			resp, err := client.Get("http://api.test/")
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if s := tr.Gate("api.test").Stats(); s.Completed != 3 {
			t.Fatalf("stats %+v", s)
		}
		if waited := time.Since(begin); waited != 0 {
			t.Errorf("waited %v: the estimates were not settled with the usage", waited)
		}
	})
}
