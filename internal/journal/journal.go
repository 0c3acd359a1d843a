package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/flock"
)

// Errors a Journal returns wrapped, with the file's name, for callers to
// test with errors.Is.
var (
	// ErrAlreadySucceeded: QueueSucceeded was given an id already in Done:
	// in the results file, or queued before. The line was not queued.
	ErrAlreadySucceeded = errors.New("already succeeded")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal closed")
	// ErrInUse: another process (or another Journal in this one) has
	// the file open; two runs appending to one results file would
	// duplicate results.
	ErrInUse = flock.ErrLocked
)

// Options configures [Open]. Both paths are required; the
// other fields' zero values are the defaults.
type Options struct {
	ResultsPath string // one JSON line per succeeded item; kept across runs
	// ErrorsPath gets one JSON line per failed item; rewritten by every
	// run, and created only when a line is written to it (see [Open]).
	ErrorsPath string

	// Restart starts a new results file instead of resuming from it. The
	// earlier results and errors, when not empty, are moved aside to
	// numbered files beside them, never overwriting one (see
	// [Journal.MovedAside]).
	Restart bool

	// Results, when not nil, gets the results lines instead of a file
	// (`sluice run -o -`: standard output): nothing is resumed or synced
	// and there is no lock, Restart does not apply, and ResultsPath only
	// names it in errors. The errors file is still ErrorsPath. Close does
	// not close it.
	Results io.Writer

	// SyncEvery bounds how long an appended line may wait for fsync: the
	// files are synced at most this long after the first append since the
	// last sync. Zero or less means 200ms.
	SyncEvery time.Duration
	// SyncBatch syncs as soon as this many lines are pending, whatever
	// SyncEvery says. Zero or less means 1024.
	SyncBatch int

	// MaxLine is the longest results line, '\n' included, that
	// QueueSucceeded accepts and that Open reads back; it bounds the memory of
	// resuming. Zero or less means 64 MiB.
	MaxLine int

	// Fingerprint reads back the request fingerprint a results line
	// carries, 0 when it carries none; Open keeps it in Done for
	// [Index.Compare]. It is called only with valid JSON and must not keep
	// the line. Nil means results carry none.
	Fingerprint func(line []byte) uint64
}

const (
	defaultSyncEvery = 200 * time.Millisecond
	defaultSyncBatch = 1024
	defaultMaxLine   = 64 << 20
)

// Journal appends the results and the errors of one run of `sluice run`.
// Open one with [Open], hand it each finished item's line with
// QueueSucceeded or QueueFailed, write the queued lines with Flush, count
// an item as done only once the Flush that wrote it returned (the package
// comment says why that loses and duplicates nothing), and Close it at the
// end. A Journal is safe for concurrent use; the zero value is not usable.
//
// Fsyncs run on a goroutine the Journal owns (Close waits for it), so a
// Flush never waits for the disk. Queueing a line costs a copy and a probe
// of the index; a Flush costs one write(2) per file for all the queued
// lines: about 1 µs a 200-byte line, flushed in groups of 256, on a small
// cloud VM, where larger lines go at the disk's pace
// (BenchmarkJournalSucceeded).
type Journal struct {
	resultsFile             *os.File  // nil when results go to Options.Results
	resultsWriter           io.Writer // Options.Results; nil when results go to resultsFile
	errorsFile              *os.File  // nil until the first errors line is written, unless the file existed
	resultsPath, errorsPath string
	id                      func([]byte) (string, bool) // reads a results line's id back
	fingerprint             func([]byte) uint64         // reads a results line's fingerprint back; may be nil
	unrecorded              int                         // results lines read back without a fingerprint
	asideResults            string                      // where Restart moved the earlier results; "" if nowhere
	asideErrors             string
	repeats                 int // results lines Open found for an id already read
	done                    *Index
	resumed                 int
	maxLine                 int
	syncBatch               int

	mu             sync.Mutex
	resultsSize    int64 // where the results file ends after our last good write
	errorsSize     int64
	pendingResults int // appends not yet synced
	pendingErrors  int
	err            error // first failed write or sync; appends refuse after it
	closed         bool

	queuedResults, queuedErrors         []byte // lines + '\n' waiting for Flush
	queuedResultLines, queuedErrorLines int
	streamBuf                           []byte // WriteSucceeded's pieces, kept for the next

	syncMu      sync.Mutex // one fsync pass at a time; guards filesClosed
	filesClosed bool
	syncs       atomic.Int64 // fsync passes that synced something, for tests

	firstPending chan struct{} // an append made pending go from 0 to 1
	batchFull    chan struct{} // pending reached syncBatch
	quit         chan struct{}
	loopDone     chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open opens the results and errors files for appending, creating
// them if needed.
//
// Unless opts.Restart, it first reads the results file, streaming, and puts
// the id of every line into Done. A last line that is torn (has no '\n', or
// is not valid JSON) is cut off by truncating the file to the end of the
// line before it. Any other line that is not valid JSON, has no id, or is
// longer than opts.MaxLine is an error naming the file and the line: such a
// file was not written by this Journal, and guessing could lose or
// duplicate results. Blank lines are kept and ignored.
//
// The errors file describes the latest run. Open empties it when it
// exists (taking its lock first); otherwise it is created only by the
// first Flush that has an errors line to write, and Close removes it when
// the run wrote none, so a run where nothing failed leaves no errors file.
// Failed items are not in Done, so each run tries them again, and those
// that fail again are written again.
//
// id extracts an item's id from a results line, ok false when it has none;
// it is called only with valid JSON, must not keep line, and must agree
// with the ids the caller passes to QueueSucceeded (the runner passes
// input.ValidLineID). It is required.
//
// Resuming costs about two scans of the results file (validation at about
// 200 MB/s, then the id), and memory for the longest line while it is read.
func Open(opts Options, id func(line []byte) (string, bool)) (*Journal, error) {
	if opts.ResultsPath == "" || opts.ErrorsPath == "" {
		return nil, errors.New("journal: a journal needs a results path and an errors path")
	}
	if id == nil {
		return nil, errors.New("journal: a journal needs an id function")
	}
	j := &Journal{
		resultsPath:  opts.ResultsPath,
		errorsPath:   opts.ErrorsPath,
		id:           id,
		fingerprint:  opts.Fingerprint,
		done:         NewIndex(),
		maxLine:      opts.MaxLine,
		syncBatch:    opts.SyncBatch,
		firstPending: make(chan struct{}, 1),
		batchFull:    make(chan struct{}, 1),
		quit:         make(chan struct{}),
		loopDone:     make(chan struct{}),
	}
	if j.maxLine <= 0 {
		j.maxLine = defaultMaxLine
	}
	if j.syncBatch <= 0 {
		j.syncBatch = defaultSyncBatch
	}
	every := opts.SyncEvery
	if every <= 0 {
		every = defaultSyncEvery
	}
	if opts.Results != nil {
		j.resultsWriter = opts.Results
		if err := j.openErrors(0, nil); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if j.errorsFile != nil {
			if err := j.errorsFile.Truncate(0); err != nil {
				j.errorsFile.Close()
				return nil, fmt.Errorf("journal: %w", err)
			}
		}
	} else if err := j.open(opts.Restart); err != nil {
		if j.resultsFile != nil {
			j.resultsFile.Close()
		}
		if j.errorsFile != nil {
			j.errorsFile.Close()
		}
		return nil, err
	}
	go j.syncLoop(every)
	return j, nil
}

func (j *Journal) open(restart bool) error {
	var err error
	// Not O_TRUNC, even to restart: the lock must be ours before anything
	// is cut.
	if j.resultsFile, err = os.OpenFile(j.resultsPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o666); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := flock.Lock(j.resultsFile); err != nil {
		return fmt.Errorf("journal: %s: %w", j.resultsPath, err)
	}
	if !stillNamed(j.resultsFile, j.resultsPath) {
		return fmt.Errorf("journal: %s: %w (it was replaced while opening)", j.resultsPath, ErrInUse)
	}
	ri, err := j.resultsFile.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// An errors file left by an earlier run is opened (and locked) now, to
	// be emptied or moved aside; none is created until there is a line to
	// write.
	if err := j.openErrors(0, ri); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var errorsSize int64
	if j.errorsFile != nil {
		if !stillNamed(j.errorsFile, j.errorsPath) {
			return fmt.Errorf("journal: %s: %w (it was replaced while opening)", j.errorsPath, ErrInUse)
		}
		ei, err := j.errorsFile.Stat()
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		errorsSize = ei.Size()
	}
	if restart {
		if err := j.moveAside(ri.Size(), errorsSize); err != nil {
			return err
		}
	} else if err := j.loadResults(ri.Size()); err != nil {
		return err
	}
	if j.errorsFile != nil {
		if err := j.errorsFile.Truncate(0); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return nil
}

// openErrors opens the errors file for appending, with extra flags
// (os.O_CREATE to create it), takes its lock and checks that it is not
// the results file, whose Stat is ri (nil: Stat it).
func (j *Journal) openErrors(flag int, ri os.FileInfo) error {
	f, err := os.OpenFile(j.errorsPath, os.O_WRONLY|os.O_APPEND|flag, 0o666)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if ri == nil && j.resultsFile != nil {
		if ri, err = j.resultsFile.Stat(); err != nil {
			f.Close()
			return fmt.Errorf("journal: %w", err)
		}
	}
	ei, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	if ri != nil && os.SameFile(ri, ei) {
		f.Close()
		return fmt.Errorf("journal: %s and %s are the same file", j.resultsPath, j.errorsPath)
	}
	if err := flock.Lock(f); err != nil {
		f.Close()
		return fmt.Errorf("journal: %s: %w", j.errorsPath, err)
	}
	j.errorsFile = f
	return nil
}

// Done returns the ids of the items that succeeded: those in the results
// file when the journal was opened, plus those appended since. The index is
// live and safe for concurrent use; the runner skips the items it holds,
// and only reads it (an id added by hand would make QueueSucceeded refuse
// it).
func (j *Journal) Done() *Index { return j.done }

// Unrecorded returns how many results lines Open read back without a
// request fingerprint (written before sluice recorded them), with
// Options.Fingerprint set; their ids count as unchanged.
func (j *Journal) Unrecorded() int { return j.unrecorded }

// MovedAside returns where Restart moved the earlier results and errors:
// "" for a file that was empty, or without Restart.
func (j *Journal) MovedAside() (results, errors string) { return j.asideResults, j.asideErrors }

// Resumed returns how many succeeded items the earlier runs left in the
// results file (distinct ids; 0 with Restart).
func (j *Journal) Resumed() int { return j.resumed }

// Close syncs and closes both files, releasing their locks, and stops the
// sync goroutine. It returns the first error the journal met, if any.
// Later calls return the same error; appends after Close fail with
// ErrClosed.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.mu.Lock()
		if j.err == nil {
			j.flushLocked() // lines queued and not yet written; an error stays in j.err
		}
		j.closed = true
		j.mu.Unlock()
		close(j.quit)
		<-j.loopDone

		serr := j.syncPending(true)
		j.syncMu.Lock()
		defer j.syncMu.Unlock()
		j.filesClosed = true
		j.mu.Lock()
		first := j.err
		emptyErrors := j.errorsSize == 0
		j.mu.Unlock()
		var eerr error
		if j.errorsFile != nil {
			if emptyErrors && first == nil {
				// Emptied at Open and nothing failed since: no errors file,
				// removed while its lock is still ours.
				eerr = os.Remove(j.errorsPath)
			}
			eerr = errors.Join(eerr, j.errorsFile.Close())
		}
		var rerr error
		if j.resultsFile != nil {
			rerr = j.resultsFile.Close()
		}
		if first != nil {
			serr = nil // the same failure, or one that follows from it
		}
		j.closeErr = errors.Join(first, serr, wrapErr(j.resultsPath, rerr), wrapErr(j.errorsPath, eerr))
	})
	return j.closeErr
}

func wrapErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("journal: %s: %w", path, err)
}
