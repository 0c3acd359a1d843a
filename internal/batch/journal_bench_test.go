package batch

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkJournalSucceeded measures appends of results lines from parallel
// workers, with the default fsync policy. ns/op is per line.
func BenchmarkJournalSucceeded(b *testing.B) {
	for _, size := range []int{200, 4 << 10} {
		b.Run(fmt.Sprintf("line=%dB", size), func(b *testing.B) {
			dir := b.TempDir()
			j, err := OpenJournal(JournalOptions{
				ResultsPath: filepath.Join(dir, "in.results.jsonl"),
				ErrorsPath:  filepath.Join(dir, "in.errors.jsonl"),
			}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			pad := strings.Repeat("x", size-len(`{"id":0000000,"body":""}`))
			var next atomic.Int64
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var line []byte
				for pb.Next() {
					line = append(line[:0], `{"id":`...)
					line = strconv.AppendInt(line, next.Add(1), 10)
					line = append(line, `,"body":"`...)
					line = append(line, pad...)
					line = append(line, `"}`...)
					if err := j.Succeeded(line); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
