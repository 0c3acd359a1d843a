package redis

import "fmt"

// Mode is what a Store does when Redis cannot answer in time.
type Mode int

const (
	// Local answers from limits kept in this process, each at this
	// process's share of the shared limit: the limit divided by the
	// processes Redis last counted (those seen in the last minute).
	// A process that has never reached Redis knows no count: it
	// divides by Options.Processes, by default 1, so that processes
	// started during an outage each take the whole limit unless it is
	// set.
	// A request rate's share is rounded down to whole calls a window, so
	// that the processes together keep the window, not only its average
	// (10/s among three is 3/s each); a rate of fewer calls a window than
	// there are processes can be kept only on average.
	// A shared concurrency is not split in shares: a process keeps the
	// calls it holds through Redis (others start as they end), and its
	// part of the slots the others did not hold at its last answer,
	// which may be none; so that the processes together keep the limit
	// (see the package doc for how far). Calls it admits meanwhile get
	// leases in Redis once it answers again, before it admits through
	// Redis. It is the zero Mode.
	Local Mode = iota
	// Open admits every call, as if there were no shared limits.
	Open
	// Closed refuses every call with ErrUnavailable.
	Closed
)

// String names the mode as ParseMode reads it.
func (m Mode) String() string {
	switch m {
	case Open:
		return "open"
	case Closed:
		return "closed"
	}
	return "local"
}

// ParseMode reads "local", "open" or "closed".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "local", "":
		return Local, nil
	case "open":
		return Open, nil
	case "closed":
		return Closed, nil
	}
	return Local, fmt.Errorf("redis: unknown mode %q (want local, open or closed)", s)
}
