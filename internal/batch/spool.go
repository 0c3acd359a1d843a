package batch

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice"
)

// DESIGN.md wants the runner's memory independent of response sizes. A
// body up to spoolAbove is read into memory and its results line queued,
// as most APIs' answers are small and that is the fastest road. A larger
// successful body is spooled instead: written to a temporary file as it
// is read, and its results line written to the journal a piece at a time
// (journal.WriteSucceeded), the body transcoded on the way as the shapes
// would embed it whole (transcode.go). So a run holds at most spoolAbove
// bytes of body a worker (and a pool's window), whatever the API answers.
//
// Only the JSONL journal (a file or standard output) takes lines in
// pieces; a database's row holds the body whole, so the table
// destinations read bodies into memory as before (plan.spoolDir is "").
// Error bodies are kept in memory too: the Transport reads them to
// classify, and the errors line holds the answer whole.

// spoolAbove is the largest body kept in memory. The spool costs a file
// (about 0.1 to 0.2 ms to make, remove and close) and a second read, the
// in-memory road a scan more of the body and its copies: BenchmarkSpool
// found them even at about 1 MiB for the http shape (the spool 20% slower
// at 256 KiB, 20% faster at 4 MiB) and the spool faster at every size for
// the batch shapes, whose in-memory lines go through encoding/json. 256 KiB
// keeps the usual answers (a few KiB) on the in-memory road while bounding
// what a worker holds four times tighter than 1 MiB would: 16 MiB for 64
// workers, or 128 MiB with --ordered's window of eight results a worker.
const spoolAbove = 256 << 10

// spoolBuffers are the spool's and the transcoder's buffers: one a body
// being read or written at a time.
var spoolBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// spooledBody is a response body in a temporary file. The file is removed
// from its directory as soon as it is made, where an open file can be
// (Unix), so that not even a kill -9 leaves it behind; elsewhere Close
// removes it. Not safe for concurrent use.
type spooledBody struct {
	f       *os.File
	name    string // still to remove at Close; "" when removed
	size    int64
	json    bool  // valid JSON, as json.Valid says: embedded compacted, not as a string
	binary  bool  // not valid UTF-8: embedded as the JSON string of its base64 (body_base64)
	encoded int64 // its length in a results line
}

// readOrSpool reads a body of size bytes (-1: unknown) into memory or,
// when dir is not "" and the body is over spoolAbove, into a spooledBody
// in dir. Either way it stops one byte past maxResponse.
func readOrSpool(r io.Reader, size int64, dir string) ([]byte, *spooledBody, error) {
	if dir == "" {
		b, err := readBody(r, size, maxResponse)
		return b, nil, err
	}
	var head []byte
	if size <= spoolAbove { // an unknown size too: most bodies are small
		b, err := readBody(r, size, spoolAbove)
		if err != nil || len(b) <= spoolAbove {
			return b, nil, err
		}
		head = b
	}
	sb, err := spool(dir, head, r)
	if errors.Is(err, errNoSpool) {
		// No temporary file to be had (a read-only directory): the body
		// is read into memory, as it was before spooling.
		rest, err := readBody(r, -1, maxResponse-len(head))
		return append(head, rest...), nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	return nil, sb, nil
}

// errNoSpool: the temporary file could not be made.
var errNoSpool = errors.New("no spool file")

// maxOpenSpools bounds the spool files open at once in this process. With
// --ordered, results wait in the reorder window holding their files, up
// to about nine a worker (some 580 at -c 64), and a process's default
// limit is 1024 descriptors, which the connections share: past the bound
// a large body is read into memory, as when no spool file can be made.
const maxOpenSpools = 128

// openSpools counts the spool files open now.
var openSpools atomic.Int64

// spool writes head and the rest of r, up to one byte past maxResponse, to
// a new temporary file in dir, checking on the way whether it is JSON.
func spool(dir string, head []byte, r io.Reader) (_ *spooledBody, err error) {
	if openSpools.Add(1) > maxOpenSpools {
		openSpools.Add(-1)
		return nil, fmt.Errorf("%w: %d already open", errNoSpool, maxOpenSpools)
	}
	f, name, err := createSpool(dir)
	if err != nil {
		openSpools.Add(-1)
		return nil, fmt.Errorf("%w: %w", errNoSpool, err)
	}
	sb := &spooledBody{f: f, name: name}
	defer func() {
		if err != nil {
			sb.Close()
		}
	}()
	bp := spoolBuffers.Get().(*[]byte)
	defer spoolBuffers.Put(bp)
	buf := *bp
	var scan jsonScan
	var text utf8Scan
	write := func(p []byte) error {
		scan.Write(p)
		text.Write(p)
		sb.size += int64(len(p))
		if _, err := f.Write(p); err != nil {
			return fmt.Errorf("spooling: %w", err)
		}
		return nil
	}
	if err := write(head); err != nil {
		return nil, err
	}
	for sb.size <= maxResponse {
		n, rerr := io.ReadFull(r, buf[:min(int64(len(buf)), maxResponse+1-sb.size)])
		if err := write(buf[:n]); err != nil {
			return nil, err
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if sb.size > maxResponse {
		return sb, nil // refused by send
	}
	sb.json = sb.size > 0 && scan.Valid()
	sb.binary = !text.Valid()
	switch {
	case sb.binary:
		// JSON or not, bytes that are not UTF-8 go as base64, whole:
		// no second read to tell its length.
		sb.encoded = base64JSONLen(sb.size)
	case sb.json:
		sb.encoded = scan.Compact()
	default:
		if sb.encoded, err = writeJSONString(io.Discard, sb.reader(), buf); err != nil {
			return nil, fmt.Errorf("spooling: %w", err)
		}
	}
	return sb, nil
}

// reader reads the body from its start.
func (sb *spooledBody) reader() io.Reader { return io.NewSectionReader(sb.f, 0, sb.size) }

// writeJSON writes the body to w as a results line embeds it.
func (sb *spooledBody) writeJSON(w io.Writer) error {
	bp := spoolBuffers.Get().(*[]byte)
	defer spoolBuffers.Put(bp)
	if sb.binary {
		_, err := writeBase64JSON(w, sb.reader(), *bp)
		return err
	}
	if sb.json {
		_, err := writeCompact(w, sb.reader(), *bp)
		return err
	}
	_, err := writeJSONString(w, sb.reader(), *bp)
	return err
}

// usage scans the body's first and last 64 KiB for token counts, where
// the APIs put them (sluice.ScanUsage's head and tail).
func (sb *spooledBody) usage(resp *http.Response) *sluice.Usage {
	const part = 64 << 10
	head := make([]byte, min(sb.size, part))
	tail := make([]byte, min(sb.size, part))
	if _, err := sb.f.ReadAt(head, 0); err != nil {
		return nil
	}
	if _, err := sb.f.ReadAt(tail, sb.size-int64(len(tail))); err != nil {
		return nil
	}
	return sluice.ScanUsage(resp, head, tail)
}

// bytes reads the whole body into memory.
func (sb *spooledBody) bytes() ([]byte, error) {
	b := make([]byte, sb.size)
	_, err := io.ReadFull(sb.reader(), b)
	return b, err
}

// Close closes the file and removes it if it is still there. It may be
// called more than once.
func (sb *spooledBody) Close() error {
	if sb.f == nil {
		return nil
	}
	err := sb.f.Close()
	sb.f = nil
	openSpools.Add(-1)
	if sb.name != "" {
		err = errors.Join(err, os.Remove(sb.name))
		sb.name = ""
	}
	return err
}
