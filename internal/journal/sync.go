package journal

import (
	"fmt"
	"time"
)

// Sync fsyncs both files now (queued lines are written by Flush and Close,
// not by Sync). It returns the first error the journal met,
// if any, even from an earlier background sync.
func (j *Journal) Sync() error {
	if err := j.syncPending(true); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// syncLoop fsyncs pending appends SyncEvery after the first of them, or at
// once when SyncBatch of them are pending.
func (j *Journal) syncLoop(every time.Duration) {
	defer close(j.loopDone)
	timer := time.NewTimer(every)
	timer.Stop()
	for {
		select {
		case <-j.quit:
			timer.Stop()
			return
		case <-j.firstPending:
			timer.Reset(every)
			continue
		case <-j.batchFull:
		case <-timer.C:
		}
		timer.Stop()
		j.syncPending(false) // a failure is kept in j.err for the next append
	}
}

// syncPending fsyncs the files with pending appends, or both when force.
// Appends made while it runs stay pending for the next pass.
func (j *Journal) syncPending(force bool) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.filesClosed {
		return fmt.Errorf("journal: %s: %w", j.resultsPath, ErrClosed)
	}
	j.mu.Lock()
	results, errs := j.pendingResults > 0 || force, j.pendingErrors > 0 || force
	j.pendingResults, j.pendingErrors = 0, 0
	errorsFile := j.errorsFile // created by a Flush, under mu
	j.mu.Unlock()
	if !results && !errs {
		return nil
	}
	j.syncs.Add(1)
	var err error
	if results && j.resultsFile != nil {
		err = wrapErr(j.resultsPath, j.resultsFile.Sync())
	}
	if errs && err == nil && errorsFile != nil {
		err = wrapErr(j.errorsPath, errorsFile.Sync())
	}
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages:
		// what the file holds is no longer known, so stop appending.
		j.mu.Lock()
		if j.err == nil {
			j.err = err
		}
		j.mu.Unlock()
	}
	return err
}
