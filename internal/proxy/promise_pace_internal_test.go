package proxy

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice"
)

// crowd sends n requests at once through a route limited to 20 a second
// and 5 in flight (adaptive, so starting at 2), against an upstream that
// takes 200 ms a call, each from a client that obeys retry-after-ms twice
// at most, as the OpenAI and Anthropic SDKs do. It returns when each
// client was done (or failed, -1) and the refusals' promises: when each
// was refused and the moment it was told, from the start.
type refusal struct{ at, told time.Duration }

func crowd(t *testing.T, n int, maxWait time.Duration) (done []time.Duration, refused []refusal) {
	up := &fakeUpstream{answer: func(int, *http.Request) *http.Response {
		time.Sleep(200 * time.Millisecond)
		return response(200, `{"id":"c1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}}
	r := testRoute(t, Route{Preset: OpenAI, MaxWait: maxWait,
		Limits: sluice.Limits{Rate: sluice.PerSecond(20), Concurrency: 5}}, up)
	h := http.Header{"Content-Type": {"application/json"}}
	const body = `{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`
	begin := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// They come over the first 100 ms, as an SDK's calls do,
			// all before any call has ended.
			time.Sleep(time.Duration(i) * 100 * time.Millisecond / time.Duration(n))
			for range 3 {
				w := serveOne(r, "POST", "/v1/chat/completions", h, body)
				if w.Code == 200 {
					mu.Lock()
					done = append(done, time.Since(begin))
					mu.Unlock()
					return
				}
				ms, err := strconv.Atoi(w.Header().Get("Retry-After-Ms"))
				if w.Code != http.StatusTooManyRequests || err != nil {
					t.Errorf("got %d, retry-after-ms %q: want 200 or 429 with it", w.Code, w.Header().Get("Retry-After-Ms"))
					return
				}
				wait := time.Duration(ms) * time.Millisecond
				mu.Lock()
				refused = append(refused, refusal{time.Since(begin), time.Since(begin) + wait})
				mu.Unlock()
				if ms >= 60000 { // the SDKs ignore it, and back off a second or so
					wait = time.Second
				}
				time.Sleep(wait)
			}
			mu.Lock()
			done = append(done, -1)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(done)
	slices.SortFunc(refused, func(a, b refusal) int { return int(a.told - b.told) })
	return done, refused
}

// A crowd refused before any call has ended, on a route whose rate says
// how fast places free up, is told moments the rate's interval apart, not
// a guessed second's turn of a concurrency slot; and so, obeying, the
// crowd is served about as fast as the limits allow (outside tester: 200
// calls at 20/s took 24 s, not 10, the proxy serving 2 a second from 10 s
// on while the refused waited out moments 500 ms apart).
func TestACrowdRefusedBeforeAnyCallEndedComesBackAtTheRatesPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done, refused := crowd(t, 200, 5*time.Second)
		if done[0] < 0 {
			t.Fatalf("%d of 200 failed after their retries", slices.Index(done, slices.Max(done))+1)
		}
		last := done[len(done)-1]
		t.Logf("200 done by %v, %d refusals, told %v to %v", last, len(refused), refused[0].told, refused[len(refused)-1].told)
		if last > 12*time.Second {
			t.Errorf("200 calls at 20/s took %v, want about 10 s", last)
		}
		wide := 0
		for i := 1; i < len(refused); i++ {
			if refused[i].told-refused[i-1].told > 150*time.Millisecond {
				wide++
			}
		}
		if wide > len(refused)/20 {
			t.Errorf("%d of %d consecutive promises more than 150 ms apart, want about 50 ms (the rate's interval)", wide, len(refused))
		}
	})
}

// A crowd too large to be admitted within the max wait is told moments
// about one interval apart, and no wave of them is told one same moment
// at the cap (outside tester: 800 calls with a 30 s max wait were told
// 500 ms apart, and dozens exactly 55 s).
func TestALargeCrowdIsNotToldOneCappedMoment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done, refused := crowd(t, 800, 30*time.Second)
		last := done[len(done)-1]
		failed := 0
		for _, d := range done {
			if d < 0 {
				failed++
			}
		}
		t.Logf("800 done by %v (%d failed), %d refusals, told %v to %v", last, failed, len(refused), refused[0].told, refused[len(refused)-1].told)
		same := map[time.Duration]int{}
		most := 0
		for _, r := range refused {
			d := (r.told - r.at).Round(10 * time.Millisecond)
			same[d]++
			if d >= maxPromise-time.Second {
				most = max(most, same[d])
			}
		}
		if most > 1 {
			t.Errorf("%d refusals were told the same moment at the cap", most)
		}
		if failed > 0 || last > 45*time.Second {
			t.Errorf("800 calls at 20/s: %d failed, the last done by %v; want none failed, about 40 s", failed, last)
		}
	})
}

// On a route limited by concurrency alone, a first crowd refused before
// any call has ended is spread by the guessed turn (a second's hold over
// the ceiling); once calls have ended, a later crowd is promised moments
// after as many measured turns as were promised ahead, not after the
// last moment promised on the guess.
func TestLaterRefusalsFollowTheMeasuredHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{answer: func(int, *http.Request) *http.Response {
			time.Sleep(200 * time.Millisecond)
			return response(200, `{"ok":true}`)
		}}
		r := testRoute(t, Route{Preset: Generic, QueueSize: 2, MaxWait: time.Minute,
			Limits: sluice.Limits{Concurrency: 2, FixedConcurrency: true}}, up)
		refusedAfter := func(n int) []time.Duration {
			var mu sync.Mutex
			var told []time.Duration
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					w := serveOne(r, "GET", "/a", nil, "")
					if w.Code != http.StatusTooManyRequests {
						return
					}
					ms, _ := strconv.Atoi(w.Header().Get("Retry-After-Ms"))
					mu.Lock()
					told = append(told, time.Duration(ms)*time.Millisecond)
					mu.Unlock()
				})
				time.Sleep(time.Millisecond) // all refused before the first call ends
			}
			wg.Wait()
			slices.Sort(told)
			return told
		}
		first := refusedAfter(40)
		if len(first) < 30 || first[len(first)-1] < 10*time.Second {
			t.Fatalf("first crowd: %d refused, told up to %v; want most, spread a guessed 500 ms apart", len(first), first[len(first)-1])
		}
		time.Sleep(time.Second) // calls have ended: a turn is 100 ms
		later := refusedAfter(20)
		if len(later) == 0 {
			t.Fatal("later crowd: none refused")
		}
		// About 34 turns of the first crowd still ahead, 100 ms each.
		if later[0] > 5*time.Second {
			t.Errorf("later crowd first told %v (the first crowd was told up to %v): want after the turns promised ahead, measured (about 3.5 s)", later[0], first[len(first)-1])
		}
	})
}
