// A nested module, so that the bench module needs no requirements for
// internal/batch's dependencies (progress bar, terminal). runbench builds it
// with -profile.
module github.com/sluicehq/sluice/bench/cmd/runbench/inproc

go 1.26.0

replace github.com/sluicehq/sluice => ../../../../

require github.com/sluicehq/sluice v0.0.0-00010101000000-000000000000

require (
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/term v0.44.0 // indirect
)
