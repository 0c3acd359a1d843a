package journal

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// BenchmarkJournalSucceeded measures results lines queued by parallel
// workers and written as the runner writes them, with a Flush every 256
// lines or 1 MiB, with the default fsync policy. ns/op is per line.
func BenchmarkJournalSucceeded(b *testing.B) {
	for _, size := range []int{200, 4 << 10} {
		b.Run(fmt.Sprintf("line=%dB", size), func(b *testing.B) {
			dir := b.TempDir()
			j, err := Open(Options{
				ResultsPath: filepath.Join(dir, "in.results.jsonl"),
				ErrorsPath:  filepath.Join(dir, "in.errors.jsonl"),
			}, input.ValidLineID)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			pad := strings.Repeat("x", size-len(`{"id":0000000,"body":""}`))
			var next atomic.Int64
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var line, id []byte
				for pb.Next() {
					id = strconv.AppendInt(id[:0], next.Add(1), 10)
					line = append(line[:0], `{"id":`...)
					line = append(line, id...)
					line = append(line, `,"body":"`...)
					line = append(line, pad...)
					line = append(line, `"}`...)
					if err := j.QueueSucceeded(string(id), line); err != nil {
						b.Fatal(err)
					}
					if lines, size := j.Queued(); lines >= 256 || size >= 1<<20 {
						if _, _, err := j.Flush(); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		})
	}
}
