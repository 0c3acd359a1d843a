package input

import (
	"io"
	"strings"
	"testing"
)

// BenchmarkReader reads 1000 typical lines of each format.
func BenchmarkReader(b *testing.B) {
	prompt := strings.Repeat("lorem ipsum ", 10)
	for _, bc := range []struct {
		name, header, line string
		opts               Options
	}{
		{"urls", "", "https://api.example/v1/items/12345?expand=owner\n", Options{}},
		{"http", "", `{"id":"item-12345","url":"/v1/items/12345","body":{"q":"` + prompt + `"}}` + "\n", Options{}},
		{"openai", "", `{"custom_id":"item-12345","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"` + prompt + `"}]}}` + "\n", Options{}},
		{"csv", "url,prompt\n", "/v1/items/1," + prompt + "\n", Options{Template: `{"q":{{json .prompt}}}`}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			input := bc.header + strings.Repeat(bc.line, 1000)
			b.SetBytes(int64(len(input)))
			opts := bc.opts
			opts.BaseURL = "https://api.example"
			for b.Loop() {
				r, err := NewReader(strings.NewReader(input), opts)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
