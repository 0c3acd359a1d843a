package redis

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// A healthy Redis whose replies come late, as on a loaded machine, was
// declared down by a 200ms call timeout and every process fell back to
// its share of the limits. With the default timeout, replies 150ms late
// are still answers (a new connection's first call waits for several):
// no fallback, no outage.
func TestSlowRepliesAreNotAnOutage(t *testing.T) {
	addr := sharedAddr(t)
	relay := slowRelay(t, addr, 150*time.Millisecond)
	client, err := Dial("redis://" + relay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	st := New(client, "api", Options{Prefix: uniquePrefix(t)})
	t.Cleanup(func() { st.Close() })
	g := sluice.Limits{Rate: sluice.PerSecond(100), Store: st}.NewGate()
	for range 2 {
		p, err := g.Acquire(context.Background(), sluice.Cost{})
		if err != nil {
			t.Fatal(err)
		}
		p.Done(sluice.Outcome{})
	}
	if s := st.Stats(); s.Fallbacks != 0 || s.Outages != 0 || s.Admissions != 2 {
		t.Errorf("stats %+v; want 2 admissions through Redis, no fallback, no outage", s)
	}
}

// slowRelay forwards TCP connections to addr, holding each chunk of the
// server's replies for delay; it returns its own address.
func slowRelay(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go func() { _, _ = io.Copy(s, c) }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
