package batch

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Errors a Journal returns wrapped, with the file's name, for callers to
// test with errors.Is.
var (
	// ErrAlreadySucceeded: Succeeded was given a line whose id is already in
	// the results file. The line was not written.
	ErrAlreadySucceeded = errors.New("already succeeded")
	// ErrJournalClosed: the journal was closed.
	ErrJournalClosed = errors.New("journal closed")
	// ErrJournalInUse: another process (or another Journal in this one) has
	// the file open; two runs appending to one results file would
	// duplicate results.
	ErrJournalInUse = errors.New("in use by another run")
)

// JournalOptions configures [OpenJournal]. Both paths are required; the
// other fields' zero values are the defaults.
type JournalOptions struct {
	ResultsPath string // one JSON line per succeeded item; kept across runs
	ErrorsPath  string // one JSON line per failed item; rewritten by every run

	// Restart empties the results file instead of resuming from it.
	Restart bool

	// SyncEvery bounds how long an appended line may wait for fsync: the
	// files are synced at most this long after the first append since the
	// last sync. Zero or less means 200ms.
	SyncEvery time.Duration
	// SyncBatch syncs as soon as this many lines are pending, whatever
	// SyncEvery says. Zero or less means 1024.
	SyncBatch int

	// MaxLine is the longest results line, '\n' included, that Succeeded
	// accepts and that OpenJournal reads back; it bounds the memory of
	// resuming. Zero or less means 64 MiB.
	MaxLine int
}

const (
	defaultSyncEvery = 200 * time.Millisecond
	defaultSyncBatch = 1024
	defaultMaxLine   = 64 << 20
)

// Journal appends the results and the errors of one run of `sluice run`.
// Open one with [OpenJournal], report each finished item with Succeeded or
// Failed, and Close it at the end. A Journal is safe for concurrent use.
//
// # Nothing lost, nothing duplicated
//
// Succeeded hands the kernel the whole line and its '\n' in one write(2) on
// a file opened with O_APPEND, and returns only after that write returned.
// The runner reports an item as done only after Succeeded returned. So:
//
//   - The Journal makes one write at a time, so a kill -9 can interrupt at
//     most one, leaving a prefix of its line, without the '\n', at the end
//     of the file.
//   - OpenJournal cuts such a torn last line. Its item is then not in Done
//     and is run again; it was never reported, because Succeeded had not
//     returned. Never lost, never duplicated.
//   - Everything write(2) accepted is in the page cache and survives the
//     death of the process, synced or not. A kill -9 therefore loses no
//     reported result.
//   - A machine crash or power loss can lose what was written but not yet
//     synced: about the last SyncEvery, or the last SyncBatch lines, of
//     results. Those items are missing from the file, so the next run does
//     them again: lost work, never a duplicated line. (Should a file system
//     leave damage before the last line, OpenJournal names the line rather
//     than guess.)
//   - Succeeded refuses an id already in Done, so even a runner bug cannot
//     put one id in the results file twice.
//   - A write that fails (disk full) is cut back off the file and the
//     Journal refuses every later append, so a failure cannot leave a torn
//     line in the middle of the file either.
//   - While open, the Journal holds an exclusive flock(2) on both files
//     (on Linux, macOS and the BSDs), so a second run on the same files
//     fails with ErrJournalInUse instead of duplicating results.
//
// Fsyncs run on a goroutine the Journal owns (Close waits for it), so
// appends never wait for the disk. An append costs a validation and an id
// scan of the line (about 200 MB/s together) and one write(2): about 4 µs
// for a 200-byte line (BenchmarkJournalSucceeded). QueueSucceeded,
// QueueFailed and Flush (journal_queue.go) write many lines with one
// write(2), for runs that finish thousands of items a second. The zero
// value is not usable; call OpenJournal.
type Journal struct {
	resultsFile, errorsFile *os.File
	resultsPath, errorsPath string
	id                      func([]byte) (string, bool) // nil: lineIDValid
	done                    *IDIndex
	resumed                 int
	maxLine                 int
	syncBatch               int

	mu             sync.Mutex
	buf            []byte // line + '\n', reused between appends
	resultsSize    int64  // where the results file ends after our last good write
	errorsSize     int64
	pendingResults int // appends not yet synced
	pendingErrors  int
	err            error // first failed write or sync; appends refuse after it
	closed         bool

	queuedResults, queuedErrors         []byte // lines + '\n' waiting for Flush
	queuedResultLines, queuedErrorLines int

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

// OpenJournal opens the results and errors files for appending, creating
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
// The errors file is always emptied: it describes the latest run. Failed
// items are not in Done, so each run tries them again, and those that fail
// again are written again.
//
// id extracts an item's id from a results line; it is called only with
// valid JSON, must not keep line, and must agree with how the runner names
// items. nil means [LineID], without its second validation of the line:
// pass nil rather than LineID.
//
// Resuming costs about two scans of the results file (validation at about
// 200 MB/s, then the id), and memory for the longest line while it is read.
func OpenJournal(opts JournalOptions, id func(line []byte) (string, bool)) (*Journal, error) {
	if opts.ResultsPath == "" || opts.ErrorsPath == "" {
		return nil, errors.New("batch: a journal needs a results path and an errors path")
	}
	j := &Journal{
		resultsPath:  opts.ResultsPath,
		errorsPath:   opts.ErrorsPath,
		id:           id,
		done:         NewIDIndex(),
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
	if err := j.open(opts.Restart); err != nil {
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
		return fmt.Errorf("batch: %w", err)
	}
	if err := lockJournalFile(j.resultsFile); err != nil {
		return fmt.Errorf("batch: %s: %w", j.resultsPath, err)
	}
	if j.errorsFile, err = os.OpenFile(j.errorsPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	ri, err := j.resultsFile.Stat()
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	ei, err := j.errorsFile.Stat()
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if os.SameFile(ri, ei) {
		return fmt.Errorf("batch: %s and %s are the same file", j.resultsPath, j.errorsPath)
	}
	if err := lockJournalFile(j.errorsFile); err != nil {
		return fmt.Errorf("batch: %s: %w", j.errorsPath, err)
	}
	if restart {
		if err := j.resultsFile.Truncate(0); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	} else if err := j.loadResults(ri.Size()); err != nil {
		return err
	}
	if err := j.errorsFile.Truncate(0); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// Done returns the ids of the items that succeeded: those in the results
// file when the journal was opened, plus those appended since. The index is
// live and safe for concurrent use; the runner skips the items it holds,
// and only reads it (an id added by hand would make Succeeded refuse it).
func (j *Journal) Done() *IDIndex { return j.done }

// Resumed returns how many succeeded items the earlier runs left in the
// results file (distinct ids; 0 with Restart).
func (j *Journal) Resumed() int { return j.resumed }

// Close syncs and closes both files, releasing their locks, and stops the
// sync goroutine. It returns the first error the journal met, if any.
// Later calls return the same error; appends after Close fail with
// ErrJournalClosed.
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
		rerr, eerr := j.resultsFile.Close(), j.errorsFile.Close()
		j.mu.Lock()
		first := j.err
		j.mu.Unlock()
		if first != nil {
			serr = nil // the same failure, or one that follows from it
		}
		j.closeErr = errors.Join(first, serr, wrapJournalErr(j.resultsPath, rerr), wrapJournalErr(j.errorsPath, eerr))
	})
	return j.closeErr
}

func wrapJournalErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("batch: %s: %w", path, err)
}
