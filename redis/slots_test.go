package redis

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Local mode's slots add up to the shared concurrency at most, whatever
// the processes held, when their last answers saw the same leases: each
// keeps what it holds and its part of what the others did not hold.
// Shares on top of what each held ran 8 + 5 of a shared 10 (outside
// review, F6).
func TestLocalSlotsAddUpToTheLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n, k := 1+r.IntN(40), 1+r.IntN(6)
		held := make([]int, k) // leases of each process, n at most in all
		total := 0
		for left := r.IntN(n + 1); left > 0; left-- {
			held[r.IntN(k)]++
			total++
		}
		sum := 0
		for i := range k {
			g := &shared{cfg: config{concurrency: n}}
			g.observe(time.Now(), total, held[i], k)
			sum += max(g.slots(k), held[i]) // Local mode's limit (config.local)
		}
		if sum > n {
			t.Fatalf("limit %d, %d processes holding %v: Local mode's limits add up to %d", n, k, held, sum)
		}
	}
}

// A process that never heard from Redis takes the limit over the
// processes it assumes (Options.Processes), at least one slot.
func TestLocalSlotsWithoutAnAnswer(t *testing.T) {
	for _, c := range []struct{ n, share, want int }{{10, 1, 10}, {10, 2, 5}, {10, 3, 3}, {2, 3, 1}} {
		g := &shared{cfg: config{concurrency: c.n}}
		if got := g.slots(c.share); got != c.want {
			t.Errorf("limit %d among %d: %d slots; want %d", c.n, c.share, got, c.want)
		}
	}
}
