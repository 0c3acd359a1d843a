package table

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/input"
)

// BenchmarkFlush is the cost of one row written, in flushes of 256, with
// a small JSON body and metadata: what sluice run pays a result beside the
// call.
func BenchmarkFlush(b *testing.B) {
	for _, bk := range backends {
		b.Run(bk.name, func(b *testing.B) {
			var dest string
			if bk.name == "sqlite" {
				dest = "sqlite:" + b.TempDir() + "/bench.db"
			} else {
				dest = tabletestPostgres(b)
			}
			tb, err := Open(context.Background(), Options{Dest: dest})
			if err != nil {
				b.Fatal(err)
			}
			defer tb.Close()
			r := input.Response{Status: 200, Body: []byte(`{"ok":true}`), Attempts: 1, Elapsed: time.Millisecond, Fingerprint: 0x1234}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := strconv.Itoa(i)
				it := input.Item{ID: id, Line: i + 1, Method: "GET", URL: "http://x/y", Metadata: []byte(`{"row":` + id + `}`)}
				if err := tb.QueueResult(it, r, nil); err != nil {
					b.Fatal(err)
				}
				if (i+1)%256 == 0 {
					if _, _, err := tb.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, _, err := tb.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
