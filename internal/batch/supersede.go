package batch

import (
	"bufio"
	"errors"
	"os"

	"github.com/sluicehq/sluice/internal/input"
)

// A resume whose input changed runs the changed items again, and their
// earlier results must leave the results file before the new ones come:
// appended beside them, a kill -9 before the run's end left both lines of
// an id in the file (journal/supersede.go). So before sending anything, a
// resume of a JSONL file reads its input once more, fingerprints each item
// whose id is done, and has the journal move the changed ids' results
// aside in one rewrite. The pass costs a read of the input and one
// SHA-256 per item done; a resume that changed nothing rewrites nothing.
//
// Standard input cannot be read twice: its changed items keep the old
// way, their earlier results moved aside by Finish, and a kill before it
// leaves those ids twice (the last line is the result). A database needs
// no pass: a changed row is moved to the superseded table in the
// transaction that writes the new one.

// supersedeChanged is the pass above. It returns how many earlier results
// it moved aside and where. Call it before the run reads its input.
func (p *plan) supersedeChanged() (moved int, where string, err error) {
	j, ok := p.dest.(jsonlFile)
	if !ok || p.cfg.Input == "-" || p.cfg.SkipChanged || p.seen.Len() == 0 {
		return 0, "", nil
	}
	f, err := os.Open(p.cfg.Input)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	r, err := input.NewReader(bufio.NewReaderSize(f, 64<<10), p.readOpts)
	if err != nil {
		return 0, "", err
	}
	for {
		it, err := r.Next()
		if bad := (*input.BadLine)(nil); errors.As(err, &bad) {
			continue // reported by the run
		}
		if err != nil {
			break // the end, or an error the run meets too: what was read counts
		}
		if p.checkID != nil && p.checkID(it.ID) != nil {
			continue // a bad line, as above
		}
		if p.seen.Succeeded(it.ID) {
			p.seen.Review(it.ID, p.fingerprint(it))
		}
	}
	return j.Supersede()
}
