package main

import (
	"fmt"
	"io"

	"github.com/sluicehq/sluice"
)

// filesPerCall is how many files a call in flight may hold open: its
// connection, and a spool file for a large body.
const filesPerCall = 2

// filesReserved are the files a run keeps open besides its calls: the
// input, the results, the errors, the journal's index, a database's
// connections, stdio.
const filesReserved = 64

// fitOpenFiles lowers lim's concurrency, and each model's, to what the
// process's limit on open files allows, and says so on w. Beyond it, dials
// failed with "too many open files": each failure was retried as if the
// API had failed, blamed on the API in the summary, and the errors file
// could not be opened to say so (outside review, ulimit -n 256 and -c
// 1000).
func fitOpenFiles(w io.Writer, lim *sluice.Limits, models map[string]sluice.Limits) {
	if most, ok := openFilesAllowed(); ok {
		fitFiles(w, most, lim, models)
	}
}

// fitFiles is fitOpenFiles for a process that may open most files.
func fitFiles(w io.Writer, most uint64, lim *sluice.Limits, models map[string]sluice.Limits) {
	room := max((int(min(most, 1<<30))-filesReserved)/filesPerCall, 1)
	fit := func(name string, l *sluice.Limits) {
		if l.Concurrency > room {
			fmt.Fprintf(w, "sluice: %s %d lowered to %d: this process may open only %d files (ulimit -n); raise that limit to run more calls at once\n", name, l.Concurrency, room, most)
			l.Concurrency = room
		}
	}
	fit("--concurrency", lim)
	for model, l := range models {
		fit("--concurrency "+model+"=", &l)
		models[model] = l
	}
}
