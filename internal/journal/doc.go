// Package journal is the crash-safe record of a batch run: the results
// file, with one line per item that succeeded, kept across runs so that a
// run resumes where the last one stopped; the errors file, with one line
// per item that failed in the latest run; and the id index ([Index]) that
// knows which items are done.
//
// # Nothing lost, nothing duplicated
//
// The promise is that every item the runner counted as succeeded is in the
// results file exactly once, across kill -9 and restarts (or, once its
// request changed and it runs again, in a numbered file beside it), and
// that a line is never in the file twice. It holds for the way the runner writes:
//
//  1. The runner builds a result's line (one line of compact JSON, no
//     '\n') and hands it over with [Journal.QueueSucceeded], an error's
//     line with [Journal.QueueFailed]. Queueing only appends the line and
//     its '\n' to a buffer in memory; QueueSucceeded also marks the id done
//     in the index at once, so the same id cannot be queued twice.
//  2. [Journal.Flush] (called by the runner every few hundred lines, every
//     few milliseconds, and by Close) writes each file's whole queue with
//     one write(2), on a file opened with O_APPEND, holding the journal's
//     lock: one write at a time per file.
//  3. The runner counts an item as succeeded (or failed) only from what a
//     Flush returned, that is after the write that carried its line
//     returned. Nothing is reported before it is in the file.
//
// A line too large to hold (the runner's for a response body it spooled
// to a file) goes through [Journal.WriteSucceeded] instead of steps 1 and
// 2: it flushes the queue, then writes the line in pieces of 1 MiB under
// the same lock, its '\n' with the last piece, and marks the id done and
// counts the line only once all of it is written; a line it cannot finish
// is cut off the file again. Between two pieces the file ends in a torn
// line, which is what a kill during a write leaves anyway.
//
// So, at each point a kill -9 can land:
//
//   - Before the write: the queued lines die with the process. Their items
//     were never counted and are not in the file, so the next run does
//     them again. Lost work, never a lost result. (The ids the process
//     marked done die with its index.)
//   - During the write: the kernel may have copied only a prefix of the
//     lines. The complete lines are whole results; the next Open counts
//     them as done (they were not reported, but nothing is lost or
//     doubled). At most one line, the last, is torn, and it lacks its '\n'
//     since every line ends with one.
//   - At the next Open: a torn last line (no '\n', or not valid JSON) is cut
//     off by truncating the file to the end of the line before it, and the
//     cut is fsynced before anything is appended after it. Its item is not
//     in Done, so it runs again and is written once. Any other line that is
//     not a results line (invalid JSON, no id, too long) is an error naming
//     the line: such a file was not written by a Journal, or was damaged,
//     and guessing could lose or duplicate results.
//   - After the write: everything write(2) accepted is in the page cache and
//     survives the death of the process, synced or not.
//
// And besides a kill:
//
//   - Duplicates: QueueSucceeded refuses, with [ErrAlreadySucceeded], an id
//     already in the index: read back from the results file at Open, or
//     queued earlier in this run. Even a runner bug cannot put one id in the
//     results file twice. (The index keeps 64-bit hashes; see [Index] for
//     the odds of two ids sharing one.)
//   - A failed write (disk full): what it wrote of the lines is cut back off
//     the file at once, and the journal refuses every later Queue and
//     Flush, so no torn line is left in the middle of the file and the
//     lines that were not written were never reported.
//   - fsync: Flush does not wait for the disk. A goroutine the Journal owns
//     fsyncs a file [Options.SyncEvery] (200ms) after its first unsynced
//     write, or at once when [Options.SyncBatch] (1024) lines are unsynced;
//     Sync and Close fsync whatever is left. A machine crash or power loss
//     can therefore lose about the last 200ms (or 1024 lines) of results,
//     already reported: those items are missing from the file, so the next
//     run does them again. Lost work, never a duplicated line. After a
//     failed fsync the kernel may have dropped the dirty pages, so the
//     journal stops: what the file holds is no longer known.
//   - An id run again because its request changed: its earlier line must
//     leave the results file before its new one is appended, or a kill
//     between the two would leave the id there twice. A resume that can
//     read its input before running it (the runner, for an input file)
//     hands each item to [Index.Review], which Redoes the changed ids, and
//     then calls [Journal.Supersede], before anything is queued: one
//     rewrite, as Compact's (below), moves the changed ids' lines to a
//     numbered file beside the results file, and only then do their new
//     lines come. A kill before its rename leaves the old file whole,
//     after it the earlier results are in the numbered file and the ids
//     not done: each id at most once in the results file, and every
//     result reported by an earlier run in it or beside it. A resume that
//     does not review (the runner's standard input, which cannot be read
//     twice) Redoes ids as it meets them ([Index.Redo]): the new line is
//     appended beside the old, and until [Journal.Compact], at the end of
//     the run, or after a kill before it, the file holds the id twice,
//     the last line being its result (Open reads lines in order and keeps
//     the last one's fingerprint). Compact keeps the last line of each id
//     and moves the others to a numbered file. Both rewrites write the
//     kept lines to a new file, fsync it, and rename it over the results
//     file, the moved lines being in their numbered file, fsynced, first,
//     so a kill leaves the old file or the new one, never a mix; nothing
//     is lost, and the superseded results are kept, not deleted. (Restart
//     moves the whole files aside the same way, rather than emptying
//     them.)
//   - Two runs on one results file: while open, the Journal holds an
//     exclusive flock(2) on both files (on Linux, macOS and the BSDs), so a
//     second run fails with [ErrInUse] instead of duplicating results.
//   - The errors file carries no such promise (it describes the latest
//     run, and failed items run again anyway). It is created by the first
//     Flush that has an errors line, and one left by an earlier run is
//     emptied at Open and removed by Close if nothing failed, so a clean
//     run leaves none; a kill -9 may leave it empty. Creating it late does
//     not touch the results file or its lock.
//   - [Options.Results] (standard output) keeps the order of writes and
//     the one-line-per-item rule, but nothing is read back, so nothing is
//     resumed and the promise above is only about one run.
//
// What the journal trusts: QueueSucceeded does not read the line it is
// given, since reading costs more than writing it. The caller must give one
// line of valid JSON without a '\n' whose id, as Open's id function reads
// it back, is the id it passes. The runner's lines come from input.Shape,
// whose contract says so; a line that broke it would be cut (last) or
// refused (elsewhere) by the next Open, never silently doubled.
//
// TestJournalSurvivesKill checks all of this by killing a child process
// that queues and flushes at random moments; TestSupersedeSurvivesKill
// and TestCompactSurvivesKill do the same for the two rewrites.
package journal
