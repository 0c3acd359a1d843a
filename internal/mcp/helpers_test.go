package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// quiet is a logger for tests, which have nothing to say.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// session starts a Server with cfg and connects a go-sdk client to it
// over in-memory transports; both are closed when the test ends.
func session(t *testing.T, cfg Config, opts *sdk.ClientOptions) (*Server, *sdk.ClientSession) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	srv := New(cfg)
	return srv, connect(t, srv, opts)
}

func connect(t *testing.T, srv *Server, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	ctx := context.Background()
	ct, st := sdk.NewInMemoryTransports()
	ss, err := srv.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "v0"}, opts)
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
		srv.Close()
	})
	return cs
}

// callTool calls a tool and decodes its structured content.
func callTool(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) (Report, *sdk.CallToolResult) {
	t.Helper()
	res, err := callErr(context.Background(), cs, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		t.Fatalf("%s: tool error: %s", tool, textOfResult(res))
	}
	return decode(t, res), res
}

func callErr(ctx context.Context, cs *sdk.ClientSession, tool string, args map[string]any) (*sdk.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return cs.CallTool(ctx, &sdk.CallToolParams{Name: tool, Arguments: args})
}

func decode(t *testing.T, res *sdk.CallToolResult) Report {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("structured content %s: %v", raw, err)
	}
	return rep
}

func textOfResult(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// peakServer answers every request after latency, counting the requests
// in its handlers at once and the most there ever were.
type peakServer struct {
	*httptest.Server
	latency  time.Duration
	inFlight atomic.Int64
	peak     atomic.Int64
	served   atomic.Int64
}

func newPeakServer(t *testing.T, latency time.Duration) *peakServer {
	return newPeakServerOn(t, latency, nil)
}

// newPeakServerOn is newPeakServer listening on ln (nil: 127.0.0.1).
func newPeakServerOn(t *testing.T, latency time.Duration, ln net.Listener) *peakServer {
	p := &peakServer{latency: latency}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := p.inFlight.Add(1)
		for {
			old := p.peak.Load()
			if n <= old || p.peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(p.latency) // the API's latency, not a test's wait
		p.inFlight.Add(-1)
		p.served.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "page %s", r.URL.Path)
	}))
	if ln != nil {
		p.Listener.Close()
		p.Listener = ln
	}
	p.Start()
	t.Cleanup(p.Close)
	return p
}

// urls returns n URLs of base: base/0, base/1, ...
func urls(base string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/%d", base, i)
	}
	return out
}

// fakeResolver resolves names from a table; each lookup of a name takes
// the next of its answers, staying on the last.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	lookups map[string]int
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	as, ok := f.answers[host]
	if !ok {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	if f.lookups == nil {
		f.lookups = make(map[string]int)
	}
	i := min(f.lookups[host], len(as)-1)
	f.lookups[host]++
	return []netip.Addr{as[i]}, nil
}

// hostPort returns the port of a test server's URL.
func port(t *testing.T, rawURL string) string {
	t.Helper()
	i := strings.LastIndexByte(rawURL, ':')
	return rawURL[i+1:]
}
