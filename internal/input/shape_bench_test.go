package input

import (
	"strings"
	"testing"
)

// BenchmarkResultLine measures a results line of each shape around a
// typical body: the UTF-8 ones must cost what they did before body_base64
// (one utf8.Valid scan, as before), the binary one an encoding straight
// into the line.
func BenchmarkResultLine(b *testing.B) {
	jsonBody := []byte(`{"id":"msg_1","type":"message","content":[{"type":"text","text":"` + strings.Repeat("lorem ipsum é ", 70) + `"}],"usage":{"input_tokens":10,"output_tokens":200}}` + "\n")
	textBody := []byte(strings.Repeat("<p>plain text, café</p>\n", 40))
	binBody := []byte(strings.Repeat("\x89PNG\x00\xff\xfe", 128))
	it := Item{ID: "r1"}
	for _, f := range []Format{FormatHTTP, FormatOpenAI} {
		for _, c := range []struct {
			name string
			body []byte
		}{{"json", jsonBody}, {"text", textBody}, {"binary", binBody}} {
			b.Run(string(f)+"/"+c.name, func(b *testing.B) {
				shape := ShapeOf(f)
				r := Response{Status: 200, Body: c.body, Attempts: 1, Fingerprint: 0xfeed}
				buf := make([]byte, 0, 8<<10)
				b.ReportAllocs()
				b.SetBytes(int64(len(c.body)))
				for b.Loop() {
					buf = shape.AppendResultLine(buf[:0], it, r)
				}
			})
		}
	}
}
