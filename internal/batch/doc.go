// Package batch is `sluice run`'s wiring: it reads items with
// internal/input, sends each through a sluice.Transport (the gate, retries
// and pacing), and records what came back with internal/journal, so that
// a run can be stopped, killed or resumed without losing or repeating a
// result. [Run] is the whole of it; [Config] and [Summary] are its input
// and output.
package batch
