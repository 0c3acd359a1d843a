package input_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluicehq/sluice/internal/input"
)

func ExampleReader() {
	lines := `{"custom_id": "a", "params": {"model": "m", "max_tokens": 8, "messages": []}}
{"custom_id": "b", "params": "not an object"}
{"params": {}}
{"custom_id": "c", "params": {"model": "m"}}
`
	r, err := input.NewReader(strings.NewReader(lines), input.Options{BaseURL: "https://api.anthropic.com"})
	if err != nil {
		fmt.Println(err) // a usage error: nothing can be read
		return
	}
	fmt.Println("format:", r.Format())
	for {
		it, err := r.Next()
		var bad *input.BadLine
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &bad):
			fmt.Println("skip", bad) // report it and read on
		case err != nil:
			fmt.Println(err) // the input cannot be read: stop
			return
		default:
			fmt.Println(it.ID, it.Method, it.URL, string(it.Body))
		}
	}
	// Output:
	// format: anthropic
	// a POST https://api.anthropic.com/v1/messages {"model":"m","max_tokens":8,"messages":[]}
	// skip line 2: params must be a JSON object
	// skip line 3: missing custom_id
	// c POST https://api.anthropic.com/v1/messages {"model":"m"}
}
