// Command inproc runs one `sluice run` batch in process, as the CLI would
// with `-c N --progress none -o OUT INPUT`, under the CPU profiler, and
// writes the heap profile taken when the live heap was largest. runbench
// builds and runs it; it is a nested module so that the bench module needs
// no requirements for internal/batch's dependencies.
//
//	inproc -input in.jsonl -out out.jsonl -c 64 -cpuprofile cpu.prof -memprofile heap.prof
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/batch"
)

func main() {
	input := flag.String("input", "", "input file")
	out := flag.String("out", "", "results file")
	conc := flag.Int("c", 64, "concurrency")
	cpuProf := flag.String("cpuprofile", "", "CPU profile")
	memProf := flag.String("memprofile", "", "heap profile at the largest live heap")
	allocProf := flag.String("allocprofile", "", "allocations profile at the end of the run")
	flag.Parse()
	os.Remove(*out)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200) // as `sluice run` does (cmd/sluice/run.go's collectLessOften)
	}

	// Sample the heap; keep the heap profile of the largest live heap seen.
	var (
		mu                          sync.Mutex
		peakInuse, peakSys, peakObj uint64
		peakProf                    bytes.Buffer
		numGC                       uint32
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			numGC = ms.NumGC
			peakSys = max(peakSys, ms.HeapSys)
			if ms.HeapInuse > peakInuse*11/10 {
				peakInuse, peakObj = ms.HeapInuse, ms.HeapObjects
				if *memProf != "" {
					peakProf.Reset()
					pprof.Lookup("heap").WriteTo(&peakProf, 0)
				}
			}
			mu.Unlock()
		}
	}()

	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer f.Close()
	}
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	begin := time.Now()
	sum, err := batch.Run(context.Background(), batch.Config{
		Input:        *input,
		Out:          *out,
		Limits:       sluice.Limits{Concurrency: *conc, Burst: 1, MaxPause: 5 * time.Minute},
		Retries:      8,
		MaxRetryWait: 5 * time.Minute,
		Progress:     "none",
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
	})
	elapsed := time.Since(begin)
	if *cpuProf != "" {
		pprof.StopCPUProfile()
	}
	if *allocProf != "" {
		// Everything allocated during the run, for alloc_space and
		// alloc_objects: the peak heap profile is taken early.
		f, err := os.Create(*allocProf)
		if err != nil {
			fatal(err)
		}
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	close(stop)
	<-sampled
	if err != nil {
		fatal(err)
	}
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	fmt.Printf("batch.Run: %d succeeded, %d failed in %v: %.0f items/s; CPU %v (%.0f µs/item)\n",
		sum.Succeeded, sum.Failed, elapsed.Round(time.Millisecond), float64(sum.Succeeded)/elapsed.Seconds(), cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(max(sum.Succeeded, 1)))
	mu.Lock()
	fmt.Printf("peak RSS %.1f MiB; largest live heap sampled %.1f MiB in %d objects; largest HeapSys %.1f MiB; %d GCs\n",
		float64(after.Maxrss)/1024, float64(peakInuse)/(1<<20), peakObj, float64(peakSys)/(1<<20), numGC)
	if *memProf != "" {
		if err := os.WriteFile(*memProf, peakProf.Bytes(), 0o666); err != nil {
			fatal(err)
		}
	}
	mu.Unlock()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "inproc:", err)
	os.Exit(1)
}
