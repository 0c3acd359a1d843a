package sluice

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"
)

func TestTokenBudgetHoldsOnePeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerMinute(6000), AllTokens) // 100 tokens a second
		if !b.AllowN(6000) {
			t.Fatal("a full minute's budget refused at once")
		}
		if b.AllowN(1) {
			t.Fatal("admitted past the budget")
		}
		time.Sleep(time.Second)
		if !b.AllowN(100) || b.AllowN(1) {
			t.Fatal("after a second want exactly 100 tokens")
		}
	})
}

func TestTokenBudgetSettleRefundsAndCharges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerSecond(100), AllTokens)
		b.AllowN(100)     // estimate 100
		b.Settle(100, 40) // used 40: 60 back
		if !b.AllowN(60) || b.AllowN(1) {
			t.Fatal("a refund of 60 did not make exactly 60 available")
		}
		time.Sleep(time.Second) // full again
		b.AllowN(50)
		b.Settle(50, 180) // 130 more than estimated: 180 used of 100, a debt of 80
		begin := time.Now()
		if err := b.Wait(t.Context(), 10); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(begin); got != 900*time.Millisecond {
			t.Errorf("after a debt of 80 at 100/s, 10 tokens waited %v, want 900ms", got)
		}
	})
}

func TestTokenBudgetOversizeRunsWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerSecond(100), AllTokens)
		b.AllowN(1)
		begin := time.Now()
		if err := b.Wait(t.Context(), 500); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(begin); got != 10*time.Millisecond {
			t.Errorf("oversize request waited %v, want 10ms (until the bucket was full)", got)
		}
		begin = time.Now()
		b.Wait(t.Context(), 1)
		if got := time.Since(begin); got != 4010*time.Millisecond {
			t.Errorf("the call after an oversize one waited %v, want 4.01s (the debt of 400, then 1)", got)
		}
	})
}

func TestTokenBudgetCancelRefunds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerSecond(100), AllTokens)
		b.AllowN(100)
		ctx, cancel := context.WithCancel(t.Context()) // not a deadline: one too soon fails at once
		time.AfterFunc(100*time.Millisecond, cancel)
		if err := b.Wait(ctx, 50); err != context.Canceled {
			t.Fatalf("Wait = %v", err)
		}
		if !b.AllowN(10) {
			t.Fatal("the cancelled wait kept its tokens")
		}
	})
}

func TestTokenBudgetSetRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(PerSecond(100), AllTokens)
		b.SetRate(PerSecond(1000))
		time.Sleep(time.Second)
		if !b.AllowN(1000) {
			t.Fatal("the bucket did not grow with the rate")
		}
		if got := b.Rate(); got != PerSecond(1000) {
			t.Fatalf("Rate() = %v", got)
		}
	})
}

func TestTokenKindCounts(t *testing.T) {
	tests := []struct {
		kind TokenKind
		want int
	}{{AllTokens, 30}, {InputTokens, 10}, {OutputTokens, 20}}
	for _, tt := range tests {
		if got := tt.kind.of(10, 20); got != tt.want {
			t.Errorf("%v counts %d of (10 in, 20 out), want %d", tt.kind, got, tt.want)
		}
	}
}

func TestZeroTokenBudgetHasNoLimit(t *testing.T) {
	var b TokenBudget
	if !b.AllowN(1 << 30) {
		t.Fatal("zero TokenBudget refused")
	}
	b.Settle(1, 1<<30)
	if !b.AllowN(1) {
		t.Fatal("zero TokenBudget charged a settlement")
	}
}

// A budget of more tokens per period than an int32 holds still holds one
// period's worth.
func TestTokenBudgetHoldsOnePeriodOfAHugeRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewTokenBudget(Rate{N: 1e10, Per: time.Minute}, AllTokens)
		for i := range 3 {
			if !b.AllowN(3e9) {
				t.Fatalf("charge %d of 3e9 tokens from a budget of 1e10 refused", i+1)
			}
		}
		if b.AllowN(2e9) {
			t.Fatal("admitted beyond the period's tokens")
		}
	})
}

// Settle with negative counts treats them as zero, and no sequence of
// settlements wraps the bucket's timeline round.
func TestTokenBudgetSettleNeverCorrupts(t *testing.T) {
	for _, tc := range []struct {
		name            string
		estimated, used int
		admits          bool // whether a charge of 50 is admitted after
	}{
		{"negative estimate", -1 << 40, 0, true},
		{"negative use", 50, -1 << 40, true}, // refunds the 50, no more
		{"both negative", math.MinInt, math.MinInt, true},
		{"huge use", 0, math.MaxInt, false},
		{"huge refund", math.MaxInt, 0, true},
		{"huge use from a negative estimate", math.MinInt, math.MaxInt, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewTokenBudget(PerSecond(100), AllTokens)
				b.AllowN(50)
				for range 10 {
					b.Settle(tc.estimated, tc.used)
				}
				if got := b.AllowN(50); got != tc.admits {
					t.Fatalf("AllowN(50) after settling = %v, want %v", got, tc.admits)
				}
				if tc.admits && b.AllowN(51) {
					t.Fatal("a refund grew the bucket past its capacity")
				}
			})
		})
	}
}

// A Gate reads a token budget's setting on every admission that costs
// tokens (its capacity, tooLarge) and writes its timeline and charged
// when it takes and settles: the two must be on different cache lines,
// or the read waits for the other core's last write. A TokenBudget is
// 128 bytes, allocated at the start of a line.
func TestTokenBudgetLines(t *testing.T) {
	var b TokenBudget
	line := func(f uintptr) uintptr { return f / 64 }
	params := unsafe.Offsetof(b.bucket) + unsafe.Offsetof(b.bucket.params)
	epoch := unsafe.Offsetof(b.bucket) + unsafe.Offsetof(b.bucket.epoch)
	tat := unsafe.Offsetof(b.bucket) + unsafe.Offsetof(b.bucket.tat)
	clips := unsafe.Offsetof(b.bucket) + unsafe.Offsetof(b.bucket.clips)
	charged := unsafe.Offsetof(b.charged)
	kind, watched := unsafe.Offsetof(b.kind), unsafe.Offsetof(b.watched)
	if size := unsafe.Sizeof(b); size != 128 {
		t.Fatalf("TokenBudget is %d bytes, want 128", size)
	}
	for _, read := range []uintptr{params, epoch, epoch + 23, kind, watched} {
		if line(read) == line(tat) {
			t.Errorf("a field read by every admission, at offset %d, shares the timeline's line (tat at %d)", read, tat)
		}
	}
	if line(clips) != line(tat) || line(charged) != line(tat) {
		t.Errorf("tat at %d, clips at %d, charged at %d: want one line", tat, clips, charged)
	}
}
