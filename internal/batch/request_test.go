package batch

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/input"
)

// TestRequestSameAsParsing checks that a request built around the item's
// parsed URL is the one http.NewRequestWithContext builds from its text:
// method, URL, host, protocol, header, body, GetBody and length.
func TestRequestSameAsParsing(t *testing.T) {
	lines := strings.Join([]string{
		`{"id":1,"url":"http://127.0.0.1:9/x?q=1"}`,
		`{"id":2,"url":"http://example.com:/y","method":"DELETE"}`,
		`{"id":3,"url":"http://127.0.0.1:9/z","body":{"a":1}}`,
		`{"id":4,"url":"http://127.0.0.1:9/z","body":""}`,
		`{"id":5,"url":"http://127.0.0.1:9/z","headers":{"X-Trace":"7","Content-Type":"text/plain"},"body":"a=1"}`,
		`{"id":6,"url":"http://user:pw@127.0.0.1:9/z"}`,
		`{"id":7,"url":"http://user@127.0.0.1:9/z","headers":{"Authorization":"Bearer k"}}`,
	}, "\n")
	for _, header := range []http.Header{{}, {"X-Run": {"a", "b"}, "Accept": {"application/json"}}} {
		r, err := input.NewReader(strings.NewReader(lines), input.Options{Format: input.FormatHTTP})
		if err != nil {
			t.Fatal(err)
		}
		p := &plan{header: header}
		ctx := context.Background()
		for {
			it, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.ParsedURL() == nil {
				t.Fatalf("item %s: no parsed URL", it.ID)
			}
			got, err := p.request(ctx, it)
			if err != nil {
				t.Fatalf("item %s: %v", it.ID, err)
			}
			want, err := p.requestParsing(ctx, it)
			if err != nil {
				t.Fatalf("item %s: %v", it.ID, err)
			}
			sameRequest(t, it.ID, got, want)
		}
	}
}

func sameRequest(t *testing.T, id string, got, want *http.Request) {
	t.Helper()
	if got.Method != want.Method || got.URL.String() != want.URL.String() || got.Host != want.Host ||
		got.Proto != want.Proto || got.ProtoMajor != want.ProtoMajor || got.ProtoMinor != want.ProtoMinor ||
		got.ContentLength != want.ContentLength || got.Context() != want.Context() {
		t.Errorf("item %s: got %s %s host %q %s len %d, want %s %s host %q %s len %d", id,
			got.Method, got.URL, got.Host, got.Proto, got.ContentLength, want.Method, want.URL, want.Host, want.Proto, want.ContentLength)
	}
	if !reflect.DeepEqual(got.Header, want.Header) {
		t.Errorf("item %s: header %v, want %v", id, got.Header, want.Header)
	}
	if (got.Body == nil) != (want.Body == nil) || (got.Body == http.NoBody) != (want.Body == http.NoBody) {
		t.Errorf("item %s: body %T, want %T", id, got.Body, want.Body)
	}
	if (got.GetBody == nil) != (want.GetBody == nil) {
		t.Fatalf("item %s: GetBody set %v, want %v", id, got.GetBody != nil, want.GetBody != nil)
	}
	if got.Body != nil {
		g, _ := io.ReadAll(got.Body)
		w, _ := io.ReadAll(want.Body)
		if string(g) != string(w) {
			t.Errorf("item %s: body %q, want %q", id, g, w)
		}
	}
	if got.GetBody != nil {
		gb, _ := got.GetBody()
		wb, _ := want.GetBody()
		g, _ := io.ReadAll(gb)
		w, _ := io.ReadAll(wb)
		if string(g) != string(w) {
			t.Errorf("item %s: GetBody %q, want %q", id, g, w)
		}
	}
}
