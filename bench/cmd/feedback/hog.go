package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// hogEnv marks the child process that -hog starts.
const hogEnv = "FEEDBACK_HOG"

// startHog starts this program again as a child that spins n goroutines,
// so that every scenario and every build compared runs beside the same
// load; stop ends it.
func startHog(n int) (stop func(), err error) {
	cmd := exec.Command(os.Args[0], "-hog", strconv.Itoa(n))
	cmd.Env = append(os.Environ(), hogEnv+"=1")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the hog: %w", err)
	}
	return func() {
		cmd.Process.Kill()
		cmd.Wait()
	}, nil
}

// spin keeps n goroutines busy until the process is killed.
func spin(n int) {
	runtime.GOMAXPROCS(max(n, 1))
	for range n {
		go func() {
			for x := 0; ; x++ {
			}
		}()
	}
	select {}
}
