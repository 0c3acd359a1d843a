// A nested module, so that the bench module needs no requirements for
// internal/batch's dependencies (progress bar, terminal). runbench builds it
// with -profile.
module github.com/sluicehq/sluice/bench/cmd/runbench/inproc

go 1.25.0

replace github.com/sluicehq/sluice => ../../../../

require github.com/sluicehq/sluice v0.0.0-00010101000000-000000000000

require (
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/schollz/progressbar/v3 v3.19.1 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/term v0.44.0 // indirect
)
