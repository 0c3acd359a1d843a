package sluice

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// dialRefused is the error of a dial to addr where nothing listens, as
// net/http returns it.
func dialRefused(addr string) error {
	a, _ := net.ResolveTCPAddr("tcp", addr)
	return &net.OpError{Op: "dial", Net: "tcp", Addr: a, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// noSuchHost is the error of a dial to a name that does not exist.
func noSuchHost(name string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}}
}

// A refused connection was transient like any other, and a call to a host
// that was down took DefaultMaxAttempts attempts and some 35 s of backoff
// to fail. Now a host that never answered gets one quick retry, and the
// error names it and keeps the cause.
func TestDoGivesUpQuicklyOnAHostThatNeverAnswered(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		err        error
	}{
		{"connection refused", "10.1.2.3:443", dialRefused("10.1.2.3:443")},
		{"no such host", "api.nowhere.invalid", noSuchHost("api.nowhere.invalid")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				calls := 0
				o, attempts, err := RetryPolicy{}.Do(t.Context(), nil, Cost{}, func(context.Context) (Outcome, error) {
					calls++
					return Outcome{Class: Classify(0, nil, nil, tc.err)}, tc.err
				})
				if took := time.Since(begin); took > 200*time.Millisecond {
					t.Errorf("took %v, want at most 200ms: one quick retry, not the backoff", took)
				}
				if calls != 2 || attempts != 2 {
					t.Errorf("%d calls, Do says %d attempts; want 2: one quick retry", calls, attempts)
				}
				var ue *UnreachableError
				switch {
				case !errors.As(err, &ue), !errors.Is(err, ErrUnreachable), !errors.Is(err, tc.err):
					t.Fatalf("err = %v, want an *UnreachableError matching ErrUnreachable and wrapping the dial error", err)
				case ue.Addr != tc.addr || ue.Attempts != 2 || ue.Answered:
					t.Errorf("got %+v, want Addr %s, 2 attempts, not answered", ue, tc.addr)
				case !strings.Contains(err.Error(), tc.addr):
					t.Errorf("%q does not name %s", err, tc.addr)
				}
				if o.Class != ClassFatal || ClassOf(err) != ClassFatal {
					t.Errorf("class %v, ClassOf %v; want fatal both: a caller retrying it would bring the wait back", o.Class, ClassOf(err))
				}
			})
		})
	}
}

// A host that answered and then refuses is restarting, or gone: a few
// quick retries, not one, and not the long backoff either.
func TestDoRetriesAHostThatAnsweredBrieflyWhenItRefuses(t *testing.T) {
	refused := dialRefused("10.1.2.3:443")
	for _, tc := range []struct {
		name     string
		upAgain  int // the attempt that succeeds; 0 for none
		attempts int
	}{
		{"back after three refusals", 5, 5},
		{"still down", 0, 1 + unreachableAttemptsKnown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				var refusedSince time.Time
				o, attempts, err := RetryPolicy{}.Do(t.Context(), nil, Cost{}, func(context.Context) (Outcome, error) {
					calls++
					switch {
					case calls == 1: // up, and answering 500
						return Outcome{Class: ClassTransient}, &StatusError{Status: 500, Class: ClassTransient}
					case calls == tc.upAgain:
						return Outcome{}, nil
					}
					if refusedSince.IsZero() {
						refusedSince = time.Now()
					}
					return Outcome{Class: ClassTransient}, refused
				})
				if attempts != tc.attempts {
					t.Errorf("%d attempts, want %d", attempts, tc.attempts)
				}
				if took := time.Since(refusedSince); took > 1600*time.Millisecond {
					t.Errorf("the refusals took %v, want at most 1.6s", took)
				}
				if tc.upAgain != 0 {
					if err != nil || o.Class != ClassOK {
						t.Errorf("got %v, %v; want the success", o.Class, err)
					}
					return
				}
				var ue *UnreachableError
				if !errors.As(err, &ue) || !ue.Answered || ue.Attempts != unreachableAttemptsKnown || !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("err = %v, want an *UnreachableError of %d refusals, answered before, wrapping ECONNREFUSED", err, unreachableAttemptsKnown)
				}
			})
		})
	}
}

// MaxAttempts still bounds the attempts: with no retries the refusal is
// the call's error as it came, transient, since the policy did not give
// up on the host (retries were off).
func TestDoUnreachableWithinMaxAttempts(t *testing.T) {
	calls := 0
	refused := dialRefused("10.1.2.3:443")
	o, _, err := RetryPolicy{MaxAttempts: 1}.Do(t.Context(), nil, Cost{}, func(context.Context) (Outcome, error) {
		calls++
		return Outcome{Class: ClassTransient}, refused
	})
	if calls != 1 || err != refused || o.Class != ClassTransient {
		t.Errorf("%d calls, err %v, class %v; want 1 call ending in the dial error, transient", calls, err, o.Class)
	}
}

// Through a Transport, what a gate remembers of its host decides: a host
// that never answered fails its first request within a quick retry, with
// an error naming it; once it has answered, a restart is waited out.
func TestTransportRefusedConnection(t *testing.T) {
	t.Run("never answered", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			dials := 0
			tr := &Transport{Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
				dials++
				return nil, dialRefused("127.0.0.1:1")
			})}
			var info RoundTripInfo
			req, _ := http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "POST", "http://127.0.0.1:1/v1/x", strings.NewReader("{}"))
			begin := time.Now()
			_, err := (&http.Client{Transport: tr}).Do(req)
			if took := time.Since(begin); took > 200*time.Millisecond {
				t.Errorf("took %v, want at most 200ms", took)
			}
			if dials != 2 || info.Attempts != 2 || info.Class != ClassFatal {
				t.Errorf("%d dials, info %+v; want 2 attempts, class fatal", dials, info)
			}
			if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "127.0.0.1:1 unreachable") {
				t.Errorf("err = %v, want ErrUnreachable naming 127.0.0.1:1 and wrapping ECONNREFUSED", err)
			}
		})
	})
	t.Run("restarting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			dials, down := 0, false
			tr := &Transport{Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				dials++
				if down && dials < 6 {
					return nil, dialRefused("127.0.0.1:1")
				}
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
			})}
			client := &http.Client{Transport: tr}
			get := func() (RoundTripInfo, error) {
				var info RoundTripInfo
				req, _ := http.NewRequestWithContext(WithRoundTripInfo(t.Context(), &info), "GET", "http://127.0.0.1:1/", nil)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				return info, err
			}
			if _, err := get(); err != nil {
				t.Fatal(err)
			}
			down = true // dials 2 to 5 refused, then up again
			begin := time.Now()
			info, err := get()
			if err != nil || info.Attempts != 5 {
				t.Errorf("got %v after %d attempts, want a success at the 5th: the host answered before", err, info.Attempts)
			}
			if took := time.Since(begin); took > 1600*time.Millisecond {
				t.Errorf("took %v, want at most 1.6s", took)
			}
		})
	})
}

// A host that answered and then died for good made a batch crawl: every
// item got the restarting host's five attempts, and their retries waited
// for the retry budget, so the items failed one every few seconds while
// the progress line showed nothing in flight. Now the first call that
// gives the host up marks it down, the calls after it (and those already
// retrying) get the quick rule, and the quick retries do not wait for the
// budget: nothing reached the host.
func TestTransportFailsABatchQuicklyWhenItsHostDiesMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		dials, down := 0, false
		tr := &Transport{
			Retry: RetryPolicy{BudgetMode: BudgetWait}, // as sluice run has it
			Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				mu.Lock()
				defer mu.Unlock()
				dials++
				if down {
					return nil, dialRefused("127.0.0.1:1")
				}
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
			}),
		}
		client := &http.Client{Transport: tr}
		get := func() error {
			resp, err := client.Get("http://127.0.0.1:1/")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			return err
		}
		for range 10 {
			if err := get(); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		down, dials = true, 0
		mu.Unlock()
		const items = 200
		begin := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int64
		work := make(chan struct{})
		for range 8 { // the runner's workers
			wg.Go(func() {
				for range work {
					if err := get(); errors.Is(err, ErrUnreachable) {
						failed.Add(1)
					} else {
						t.Errorf("err = %v, want ErrUnreachable", err)
					}
				}
			})
		}
		for range items {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		if failed.Load() != items {
			t.Fatalf("%d of %d failed as unreachable", failed.Load(), items)
		}
		// The first calls take the restarting host's 1.5 s; the rest, a
		// quick retry each (at most 100 ms) on 8 workers.
		if took := time.Since(begin); took > 5*time.Second {
			t.Errorf("%d items against a dead host took %v, want under 5s", items, took)
		}
		if dials > 2*items+5*8 {
			t.Errorf("%d dials for %d items, want at most %d", dials, items, 2*items+5*8)
		}
	})
}
