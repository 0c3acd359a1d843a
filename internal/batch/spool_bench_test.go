package batch

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
	"github.com/sluicehq/sluice/internal/journal"
)

// BenchmarkSpool compares the two roads of a successful body, read and
// written as one results line to a journal (whose output is discarded, as
// both write the same line): held in memory and queued, or spooled and
// written in pieces. The threshold (spoolAbove) is where the second
// stops costing more time than the first, which costs memory as it goes.
func BenchmarkSpool(b *testing.B) {
	for _, format := range []input.Format{input.FormatHTTP, input.FormatOpenAI} {
		for _, size := range []int{16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
			for _, road := range []string{"memory", "spool"} {
				benchmarkSpool(b, format, size, road)
			}
		}
	}
}

func benchmarkSpool(b *testing.B, format input.Format, size int, road string) {
	body := embeddingBody(size)
	b.Run(fmt.Sprintf("%s/%dKiB/%s", format, size>>10, road), func(b *testing.B) {
		dir := b.TempDir()
		j, err := journal.Open(journal.Options{ResultsPath: "results", ErrorsPath: filepath.Join(dir, "errors"), Results: io.Discard}, input.ValidLineID)
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		dest := jsonlFile{j, input.ShapeOf(format)}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			it := input.Item{ID: strconv.Itoa(i)}
			resp := input.Response{Status: 200, Attempts: 1, Fingerprint: 1}
			if road == "memory" {
				body, err := readBody(bytes.NewReader(body), int64(len(body)), maxResponse)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body = body
				if err := dest.QueueResult(it, resp, nil); err != nil {
					b.Fatal(err)
				}
				if _, _, err := j.Flush(); err != nil {
					b.Fatal(err)
				}
				continue
			}
			sb, err := spool(dir, nil, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			l, _ := dest.lineAround(it, resp, sb)
			if _, _, err := j.WriteSucceeded(it.ID, l.size(), l.write); err != nil {
				b.Fatal(err)
			}
			sb.Close()
		}
	})
}

// embeddingBody is an embeddings answer of about size bytes, compact, as
// the large answers of LLM APIs are.
func embeddingBody(size int) []byte {
	b := []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[`)
	for i := 0; len(b) < size-100; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(i%977)/-1013.0, 'f', 9, 64)
	}
	return append(b, `]}],"model":"m","usage":{"prompt_tokens":8,"total_tokens":8}}`...)
}
