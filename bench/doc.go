// Package bench measures sluice's limiters side by side with the libraries
// people would otherwise reach for: golang.org/x/time/rate,
// golang.org/x/sync/semaphore and go.uber.org/ratelimit.
//
// It is a module of its own so that the library at the repository root
// does not depend on what it is compared with. The package holds only
// benchmarks; the numbers and the targets they are held to are in
// BENCHMARKS.md at the repository root.
//
// Run everything, six times each, and print medians and the ratios
// sluice/xrate:
//
//	./run.sh
//
// or by hand, from this directory:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./... | go run ./cmd/ratio
//
// Ratios mean something only within one run on one machine: compare
// sub-benchmarks of the same parent, never numbers from different runs.
package bench
