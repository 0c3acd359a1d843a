package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Earlier is what [Read] found of the runs before: what a run opening
// the same results file would resume.
type Earlier struct {
	// Done holds the ids of the results, with their fingerprints, as
	// [Journal.Done] would at Open.
	Done *Index
	// Exists is false when there is no results file yet.
	Exists bool
	// Unrecorded counts results without a request fingerprint.
	Unrecorded int
	// Torn is true when the last line is torn: Open would cut it (its
	// item was never reported, and runs again).
	Torn bool
}

// Read reads the results file opts.ResultsPath back as [Open] does, but
// only reads: it creates no file, takes no lock, cuts no torn line, and
// leaves the errors file alone. A file that does not exist is no earlier
// run. Its errors are those Open would return for the same file. It is
// for a dry run, which must say what a run would skip without touching
// what the run will need; opts.Restart, opts.Results and the sync
// options do not apply.
func Read(opts Options, id func(line []byte) (string, bool)) (Earlier, error) {
	e := Earlier{Done: NewIndex()}
	if opts.ResultsPath == "" {
		return e, errors.New("journal: reading needs a results path")
	}
	if id == nil {
		return e, errors.New("journal: reading needs an id function")
	}
	f, err := os.Open(opts.ResultsPath)
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return e, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return e, fmt.Errorf("journal: %w", err)
	}
	e.Exists = true
	maxLine := opts.MaxLine
	if maxLine <= 0 {
		maxLine = defaultMaxLine
	}
	sc := scan{path: opts.ResultsPath, maxLine: maxLine, id: id, fingerprint: opts.Fingerprint, done: e.Done}
	keep, err := sc.read(f, fi.Size())
	if err != nil {
		return Earlier{Done: NewIndex(), Exists: true}, err
	}
	e.Unrecorded, e.Torn = sc.unrecorded, keep < fi.Size()
	return e, nil
}
