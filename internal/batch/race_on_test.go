//go:build race

package batch_test

// bigScale divides the sizes of the tests of large bodies under the race
// detector, whose instrumentation of every byte the spool scans and
// transcodes would make them take minutes.
const bigScale = 8
