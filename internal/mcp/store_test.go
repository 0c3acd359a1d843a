package mcp

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func finish(c *call) {
	for i := range c.results {
		c.set(i, result{ok: true}, func() string { return "" })
	}
}

func TestStoreForgetsTheOldestFinishedCallFirst(t *testing.T) {
	items := []pending{{id: "1"}}
	base := int64(itemOverhead + 1) // what each call's one result costs
	s := newStore(time.Hour, 3*base+100)
	old := s.add(items, nil)
	running := s.add(items, nil)
	if !s.reserve(old, 60) || !s.reserve(running, 30) {
		t.Fatal("reserve refused room there was")
	}
	finish(old)
	young := s.add(items, nil)
	if !s.reserve(young, 60) {
		t.Fatal("no room made for the young call")
	}
	if _, err := s.get(old.handle); err == nil || !strings.Contains(err.Error(), "forgotten") {
		t.Errorf("the oldest finished call is still there (err %v)", err)
	}
	if _, err := s.get(running.handle); err != nil {
		t.Errorf("a running call was forgotten: %v", err)
	}
	if s.reserve(young, base+20) {
		t.Error("reserved past the cap while only running calls could make room")
	}
	if s.total != 2*base+90 {
		t.Errorf("total %d, want %d", s.total, 2*base+90)
	}
}

func TestStoreForgetsCallsAfterTheirTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(time.Minute, 1<<20)
		c := s.add([]pending{{id: "1"}}, nil)
		time.Sleep(2 * time.Minute) // running: kept however long
		if _, err := s.get(c.handle); err != nil {
			t.Fatalf("a running call was forgotten: %v", err)
		}
		finish(c)
		time.Sleep(59 * time.Second)
		if _, err := s.get(c.handle); err != nil {
			t.Fatalf("forgotten before its TTL: %v", err)
		}
		time.Sleep(2 * time.Second)
		if _, err := s.get(c.handle); err == nil {
			t.Fatal("kept past its TTL")
		}
	})
}

func TestStoreFullKeepsTheBodysStart(t *testing.T) {
	f := &fetcher{store: newStore(time.Hour, 5000)}
	c := f.store.add([]pending{{id: "1"}}, nil)
	body := []byte(strings.Repeat("x", 20_000))
	kept := f.keep(c, body)
	if len(kept) != keepWhenFull {
		t.Errorf("kept %d bytes of a body larger than the store, want %d", len(kept), keepWhenFull)
	}
	if got := f.keep(c, body); len(got) != 0 {
		t.Errorf("kept %d more bytes with the store full, want 0", len(got))
	}
}
