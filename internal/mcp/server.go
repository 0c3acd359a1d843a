package mcp

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
)

// Server is sluice's MCP server: the tools, the limits they share, and
// the store of results. Every session and every tool call goes through
// the same gates. Build it with New, serve with Run (or connect the
// Server's MCP form yourself), and Close it to stop the calls still
// running and wait for them. The zero Server is not usable: use New.
// Safe for concurrent use.
type Server struct {
	cfg       Config
	mcp       *sdk.Server
	fetcher   *fetcher
	transport *sluice.Transport

	base context.Context // the parent of background calls; ends with Close
	stop context.CancelCauseFunc
	wg   sync.WaitGroup // the calls' goroutines
	once sync.Once

	running atomic.Int64 // fetch_many calls not finished
}

// New returns a Server with cfg (zero fields take their defaults).
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	g := newGuard(cfg.AllowPrivate, cfg.Resolver)
	client, tr := newClient(cfg, g)
	s := &Server{cfg: cfg, transport: tr}
	s.fetcher = &fetcher{cfg: cfg, client: client, guard: g, store: newStore(cfg.StoreTTL, cfg.StoreBytes),
		pausedUntil: func(req *http.Request) time.Time { return tr.Gate(tr.KeyOf(req)).PausedUntil() }}
	s.base, s.stop = context.WithCancelCause(context.Background())
	s.mcp = sdk.NewServer(&sdk.Implementation{Name: "sluice", Title: "sluice", Version: cfg.Version}, &sdk.ServerOptions{
		Instructions: instructions,
	})
	s.addTools()
	return s
}

// MCP returns the server in the go-sdk's form, to connect it to a
// transport of one's choosing (Server.Run serves one).
func (s *Server) MCP() *sdk.Server { return s.mcp }

// Run serves one client over t (sdk.StdioTransport for sluice mcp)
// until the client goes away or ctx ends.
func (s *Server) Run(ctx context.Context, t sdk.Transport) error {
	return s.mcp.Run(ctx, t)
}

// Stats returns the counters of every host's gate added up.
func (s *Server) Stats() sluice.GateStats { return s.transport.Stats() }

// Close cancels the calls still running and waits until they have
// stopped. The results stay readable until the Server is dropped.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop(errServerClosed)
		s.wg.Wait()
		s.transport.CloseIdleConnections()
	})
	return nil
}

// instructions tell the client's model what the server is for.
const instructions = `sluice fetches many URLs or HTTP requests in one tool call, within limits the operator set: use fetch_many instead of calling a fetch tool in a loop or firing requests yourself. It returns a summary and the first page of results with a handle; page with get_results, stop with cancel. Long calls return a handle while they continue (state running): poll get_results for the rest.`
