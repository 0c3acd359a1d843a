package sluice

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An empty response (HEAD, 204, Content-Length: 0) comes with
// http.NoBody, which net/http lets code leave unclosed; held for its
// slot, it kept it for ever, and the gate admitted nothing after
// Concurrency of them (outside review). Its slot is free when it comes.
func TestTransportEmptyBodyHoldsNoSlot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/empty":
			w.Header().Set("Content-Length", "0")
		default:
			w.Write([]byte("for GET; HEAD gets none"))
		}
	}))
	t.Cleanup(srv.Close)
	tr := &Transport{Limits: Limits{Concurrency: 1, FixedConcurrency: true}}
	for _, call := range []string{"HEAD /", "DELETE /204", "GET /empty"} {
		method, path, _ := strings.Cut(call, " ")
		for i := range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
			resp, err := tr.RoundTrip(req)
			cancel()
			if err != nil {
				t.Fatalf("%s, call %d with the earlier bodies left unclosed: %v", call, i+1, err)
			}
			if resp.Body != http.NoBody {
				t.Fatalf("%s: body %T, want http.NoBody as net/http gives it", call, resp.Body)
			}
		}
	}
}

// A panic in the Transport's Usage func kept the slot for good, and a
// later Close of the same body spun for ever (outside review): the panic
// goes on to the reader, the slot is given back, and Close returns.
func TestTransportUsagePanicGivesTheSlotBack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"usage":{"input_tokens":3,"output_tokens":4}}`))
	}))
	t.Cleanup(srv.Close)
	tr := &Transport{
		Limits: Limits{Concurrency: 1, FixedConcurrency: true, Tokens: PerSecond(1e9)},
		Usage:  func(*http.Response, []byte, []byte) *Usage { panic("usage bug") },
	}
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		req.URL.Path = "/v1/messages"
		resp, err := tr.RoundTrip(req)
		cancel()
		if err != nil {
			t.Fatalf("call %d after a panic in Usage: %v", i+1, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("call %d: reading to the end did not panic", i+1)
				}
			}()
			buf := make([]byte, 512)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					return
				}
			}
		}()
		closed := make(chan struct{})
		go func() {
			resp.Body.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("call %d: Close after the panic did not return", i+1)
		}
	}
}
