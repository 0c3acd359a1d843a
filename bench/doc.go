// Package bench measures sluice's limiters side by side with the libraries
// people would otherwise reach for: golang.org/x/time/rate,
// golang.org/x/sync/semaphore, go.uber.org/ratelimit and failsafe-go.
//
// It is a module of its own so that the library at the repository root
// does not depend on what it is compared with. The package holds only
// benchmarks; the numbers and the targets they are held to are in
// BENCHMARKS.md at the repository root.
//
// Run everything, six times each, and print medians and the ratios of
// sluice to each sibling (xrate, the naive compositions, failsafe-go):
//
//	./run.sh
//
// or by hand, from this directory:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./... | go run ./cmd/ratio
//
// The commands under cmd/ measure whole paths, each beside its plain
// counterpart in the same run, repeated, as median and range:
//
//   - cmd/transportbench: http.Client through sluice.Transport beside a
//     plain http.Client, instant server in another process;
//   - cmd/runbench: `sluice run` beside a plain Go batch client, and
//     against the mock API;
//   - cmd/feedback: pacing against a strict sliding-window API, limits
//     given and learned, beside x/time/rate at exactly the limit;
//   - cmd/adaptive: the adaptive ceiling over time.
//
// Ratios mean something only within one run on one machine: compare
// sub-benchmarks of the same parent, never numbers from different runs.
package bench
