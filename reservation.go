package sluice

import (
	"context"
	"time"
)

// A Reservation is units taken from a RateLimiter, SlidingWindow or
// TokenBudget for a start at a time that may lie ahead (see Delay). If the
// holder will not act, Cancel gives the units back so that others may use
// them.
//
// A Reservation is meant for one goroutine; it is not safe for concurrent
// use.
type Reservation struct {
	owner    reserver
	n        int
	start    int64 // owner's clock; math.MinInt64 for "no limit"
	mark     int64 // what the owner needs to give the units back
	cost     int64 // RateLimiter: n × interval
	params   *rateParams
	ringSeq  int64 // RateLimiter: the unit after these in its ring; 0: none
	canceled bool
}

// reserver is what a Reservation needs from the limit that made it.
type reserver interface {
	now() int64
	// follow brings r up to date with changes of the limit's pace.
	follow(r *Reservation)
	// cancel gives back r's units.
	cancel(r *Reservation)
	// watch returns a channel closed when r's start time may move.
	watch(r *Reservation) <-chan struct{}
}

// noLimit is the start of a reservation from a limit that has no limit.
const noLimit = -1 << 63

// Delay returns how long from now until the reserved units may be used; 0
// when they may be used at once.
func (r *Reservation) Delay() time.Duration {
	if r.start == noLimit {
		return 0
	}
	r.owner.follow(r)
	return max(0, time.Duration(r.start-r.owner.now()))
}

// Cancel gives the units back, as far as that is still possible: units
// reserved by others after these stay where they are. A reservation whose
// time has passed counts as used, and Cancel does nothing.
func (r *Reservation) Cancel() {
	if r.canceled || r.start == noLimit {
		return
	}
	r.canceled = true
	r.owner.follow(r)
	if r.owner.now() > r.start {
		return
	}
	r.owner.cancel(r)
}

// wait sleeps until the reservation's time, following changes of pace.
// When ctx is done first, it cancels the reservation and returns
// ctx.Err().
func (r *Reservation) wait(ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		d := r.Delay()
		if d <= 0 {
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-timer.C:
		case <-r.owner.watch(r):
		case <-ctx.Done():
			r.Cancel()
			return ctx.Err()
		}
	}
}
