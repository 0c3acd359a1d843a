package batch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// inputExtensions are the names a run's input usually has.
var inputExtensions = map[string]bool{".jsonl": true, ".ndjson": true, ".json": true, ".csv": true, ".tsv": true, ".txt": true}

// stemTwins returns the files beside the input that share its default
// results file: data.jsonl and data.csv both write data.results.jsonl
// and data.errors.jsonl, and a run of one would take the other's results
// for its own earlier run and empty its errors file. The names are kept
// (resuming depends on them), so the run says so instead. None when -o
// names the results.
func (c *Config) stemTwins() []string {
	if c.Out != "" || c.Input == "-" {
		return nil
	}
	dir, base := filepath.Split(c.Input)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	entries, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return nil
	}
	var twins []string
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if name == base || e.IsDir() || !inputExtensions[ext] || strings.TrimSuffix(name, ext) != stem {
			continue
		}
		twins = append(twins, filepath.Join(dir, name))
	}
	return twins
}

// warnTwins says which other inputs share this run's default results.
func (p *plan) warnTwins() {
	for _, twin := range p.cfg.stemTwins() {
		fmt.Fprintf(p.stderr, "sluice: warning: %s writes its results to %s by default too; give each input its own -o to keep their results and errors apart\n", twin, p.cfg.resultsPath())
	}
}
