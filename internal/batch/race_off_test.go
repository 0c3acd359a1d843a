//go:build !race

package batch_test

// bigScale divides the sizes of the tests of large bodies (see
// race_on_test.go).
const bigScale = 1
