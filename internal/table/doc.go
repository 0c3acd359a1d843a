// Package table writes a run's results into a database table instead of a
// JSONL file: SQLite (modernc.org/sqlite, no cgo) for `-o sqlite:PATH`,
// PostgreSQL (pgx) for `-o postgres://...`. [Open] one, and the runner
// uses it as it uses the JSONL journal: queue each finished item, Flush
// the queue, count an item as done only once the Flush that carried it
// returned.
//
// # Tables
//
// A run with --table NAME (default sluice_results) writes three tables,
// created when missing:
//
//   - NAME: one row per succeeded id (the primary key) with the input line,
//     the status, the response body (column response, JSON when it is
//     JSON: jsonb in PostgreSQL; else column response_text, or, for bytes
//     no text column holds whole, not UTF-8 or, in PostgreSQL, with a NUL,
//     column response_bytes: BLOB, bytea), the item's
//     metadata (a csv row's columns the request does not use, or the
//     line's "metadata" object), the request body, the API's request id,
//     attempts, elapsed_ms, input_tokens and output_tokens (with --api),
//     the request fingerprint and finished_at.
//   - NAME_errors: one row per failed item of the latest run (emptied when
//     a run starts, as the errors file is), with class, status, the API's
//     message and answer (response_text, or response_bytes as for NAME),
//     attempts; and one per bad input line (class
//     bad_line, no id).
//   - NAME_superseded: created the first time an id runs again because its
//     request changed; its earlier row is moved there, in the transaction
//     that writes the new one.
//
// An existing table must have the columns with compatible types (more
// columns are fine when they may be NULL or have a default) and, for NAME,
// id as its primary key; otherwise Open fails naming the table and the
// column ([ErrShape]). A column that came later (response_bytes) is added
// to a table that lacks it, as an earlier sluice made it, so that a run
// resumes into that table; it may be NULL, so the earlier sluice goes on
// writing into the table too.
//
// # Nothing lost, nothing duplicated
//
// The promise is the JSONL journal's (see internal/journal), kept the
// database's way:
//
//  1. QueueResult marks the id done in the index ([Table.Done]) at once,
//     refusing an id already done, and keeps the row in memory.
//  2. Flush writes every queued row in one transaction (SQLite: INSERTs
//     of 64 rows each inside BEGIN ... COMMIT; PostgreSQL: one INSERT ...
//     SELECT FROM unnest(arrays) a table, sent together as one pipelined
//     batch, which the server runs as one transaction), and returns only
//     once it committed. Rows queued meanwhile wait for the next Flush.
//  3. The runner counts an item only from what Flush returned.
//
// So a kill -9 before the commit loses the transaction's rows, whose items
// were never reported and run again; a kill after it leaves them in the
// table, and the next run reads their ids back and skips them. A commit
// cut off by a lost connection may have happened or not: either way its
// items were not reported, and the primary key keeps an id from being
// stored twice. A failed transaction fails the Table for good: every later
// Queue and Flush returns the error, and the runner stops.
//
// Durability against a machine crash follows the database: SQLite runs in
// WAL mode with synchronous=NORMAL unless the path's parameters say
// otherwise (a power loss can roll back the last transactions, whose items
// then run again, as the journal's 200ms of unsynced lines do);
// PostgreSQL commits as the server is configured.
//
// Two runs on one table: with PostgreSQL the Table holds a session
// advisory lock named after the table, so a second run fails at Open
// ([ErrInUse]). With SQLite the Table holds an flock(2) on a file beside
// the database, PATH.NAME.sluice-lock, with the same effect (where flock
// is missing, a second run's first row for an id the first one stored
// fails its transaction on the primary key, and that run stops; nothing
// is stored twice).
package table
