package batch

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/internal/input"
)

// The results line of an item whose body is spooled is the line its shape
// builds around a stand-in for the body, the body written in its place
// (spooledBody.writeJSON): the shapes stay the one place that says what a
// line holds, and the line is byte for byte the one they build with the
// body in memory (FuzzTranscode).

// spoolMarker stands in for a spooled body when its results line is
// built, to be cut out: a JSON string no id or metadata holds, for its
// random part.
var spoolMarker = func() []byte {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Appendf(nil, `"sluice-spooled-body-%x"`, b)
}()

// spooledLine is the results line of an item whose body is spooled: the
// shape's line around it.
type spooledLine struct {
	prefix, suffix []byte
	body           *spooledBody
}

// size is the line's length without its '\n'.
func (l spooledLine) size() int64 {
	return int64(len(l.prefix)) + l.body.encoded + int64(len(l.suffix))
}

func (l spooledLine) write(w io.Writer) error {
	if _, err := w.Write(l.prefix); err != nil {
		return err
	}
	if err := l.body.writeJSON(w); err != nil {
		return err
	}
	_, err := w.Write(l.suffix)
	return err
}

// lineAround builds the results line of it and r, whose body is sb, as
// the shape would with the body in memory; ok is false when that cannot
// be done in pieces.
func (j jsonlFile) lineAround(it input.Item, r input.Response, sb *spooledBody) (spooledLine, bool) {
	// A body that is not UTF-8 goes as base64, whose member the shape
	// names: it writes the marker as that member's value, as it is.
	r.Body, r.BodyBase64 = spoolMarker, sb != nil && sb.binary
	line := j.shape.AppendResultLine(nil, it, r)
	i := bytes.Index(line, spoolMarker)
	if i < 0 || bytes.Contains(line[i+1:], spoolMarker) {
		return spooledLine{}, false
	}
	return spooledLine{line[:i], line[i+len(spoolMarker):], sb}, true
}

// checkSpooled says why the results line of an item whose body is spooled
// cannot be written (nil when it can), as send says why a body over
// maxResponse cannot.
func (p *plan) checkSpooled(it input.Item, r input.Response, sb *spooledBody) (spooledLine, error) {
	j, ok := p.dest.(jsonlFile)
	if !ok {
		return spooledLine{body: sb}, nil // read back into memory: only the journal takes pieces
	}
	l, ok := j.lineAround(it, r, sb)
	if !ok {
		return spooledLine{body: sb}, nil
	}
	if l.size()+1 > int64(j.MaxLine()) {
		return l, fmt.Errorf("response larger than %d MiB once written as JSON in its results line", j.MaxLine()>>20)
	}
	return l, nil
}

// writeSpooled writes the results line of an item whose body is spooled,
// after the lines queued, and counts what was written, as a flush does
// (flushJournal); it closes the spool.
func (p *plan) writeSpooled(it input.Item, r input.Response, l spooledLine) error {
	defer l.body.Close()
	j, ok := p.dest.(jsonlFile)
	if !ok || l.prefix == nil {
		body, err := l.body.bytes()
		if err != nil {
			return fmt.Errorf("reading the spooled response back: %w", err)
		}
		r.Body = body
		return p.dest.QueueResult(it, r, nil)
	}
	p.badMu.Lock()
	defer p.badMu.Unlock()
	results, failed, err := j.WriteSucceeded(it.ID, l.size(), l.write)
	if failed > 0 {
		failed -= p.badQueued
		p.badQueued = 0
	}
	p.counts.succeeded.Add(int64(results))
	p.counts.failed.Add(int64(failed))
	return err
}
