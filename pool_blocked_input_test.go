package sluice

import (
	"context"
	"testing"
	"time"
)

// An input that blocks (a read from a pipe, an API's next page) does not
// hold Run once ctx has ended: Run waited for the feeder, inside the
// iterator, until it yielded again, or for ever. The iterator's next
// yield then returns false, and it returns.
func TestPoolRunReturnsWhileItsInputBlocks(t *testing.T) {
	release := make(chan struct{})
	iterDone := make(chan bool, 1)
	items := func(yield func(int) bool) {
		if !yield(1) {
			iterDone <- false
			return
		}
		<-release // blocks, as a read from a pipe would
		iterDone <- yield(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool[int, int]{Workers: 2}
	returned := make(chan int, 1)
	go func() {
		n := 0
		for range p.Run(ctx, items, func(context.Context, int) (int, error) { return 0, nil }) {
			n++
			cancel() // the first result: stop the run
		}
		returned <- n
	}()
	select {
	case n := <-returned:
		if n != 1 {
			t.Errorf("%d results; want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled while its input blocked")
	}
	close(release)
	if more := <-iterDone; more {
		t.Error("the input's yield after Run returned said go on; want false")
	}
}
