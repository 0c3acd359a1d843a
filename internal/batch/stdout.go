package batch

// `-o -` (issue 10, item 9): results to standard output, as a filter
// would write them, with progress and the summary on standard error.
//
// Nothing is resumed then: standard output cannot be read back, so a rerun
// sends every item again (the start says so). The errors still go to a
// file, the one a run without -o would use (batch.errors.jsonl beside
// batch.jsonl, stdin.errors.jsonl for standard input), created only when
// something failed: errors lines mixed into stderr with the progress would
// be neither readable nor parseable, and a file keeps the input format's
// shape for a later script.

// stdoutName is how the summary names standard output as the results'
// destination.
const stdoutName = "standard output"

// resultsToStdout reports whether results go to Stdout (-o -).
func (c *Config) resultsToStdout() bool { return c.Out == "-" }

// resultsName is where results go, for the summary.
func (c *Config) resultsName() string {
	if c.resultsToStdout() {
		return stdoutName
	}
	return c.resultsPath()
}

// errorsFile is where the errors go: beside the results file, or, with
// results on standard output, beside the input.
func (c *Config) errorsFile() string {
	if c.resultsToStdout() {
		byInput := *c
		byInput.Out = ""
		return errorsPath(byInput.resultsPath())
	}
	return errorsPath(c.resultsPath())
}
