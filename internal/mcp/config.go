package mcp

import (
	"log/slog"
	"time"

	"github.com/sluicehq/sluice"
)

// Config says what the tools may do. The zero Config works: the defaults
// below, public addresses only.
type Config struct {
	// Global limits every request of every tool call together: its
	// Concurrency (0 means DefaultGlobalConcurrency) and Rate. It is a
	// fixed ceiling; it learns nothing (the hosts' gates do).
	Global sluice.Limits
	// Host limits each host (host:port) on its own, adaptive and learned
	// from headers as everywhere in sluice; HostLimits, when set, gives
	// some hosts limits of their own, keyed by host (every port of it)
	// or host:port in any spelling HostName reads (a name it refuses is
	// ignored, with a warning).
	Host       sluice.Limits
	HostLimits map[string]sluice.Limits
	// Retry says what is retried; each retry goes back through the gates.
	// The zero value retries up to sluice.DefaultMaxAttempts times.
	Retry sluice.RetryPolicy
	// AttemptTimeout bounds each attempt until the response starts;
	// 0 means DefaultAttemptTimeout.
	AttemptTimeout time.Duration

	// MaxItems is the most URLs or requests one fetch_many may carry;
	// 0 means DefaultMaxItems.
	MaxItems int
	// MaxBody is the most bytes of one response body read and kept; the
	// rest is not read and the item says truncated. 0 means DefaultMaxBody.
	MaxBody int64
	// MaxRunning is the most fetch_many calls running at once, across
	// sessions (background ones included): each holds a goroutine per
	// item while it waits in the gates. 0 means DefaultMaxRunning.
	MaxRunning int
	// CallBudget is the longest one fetch_many may run; items not done by
	// then fail as out of time. 0 means DefaultCallBudget.
	CallBudget time.Duration
	// ReplyWithin bounds how long a fetch_many that is not a background
	// one waits before it replies: a call still running then returns its
	// summary so far with the handle and state running, and goes on as a
	// background call would (within its CallBudget). Clients give up on a
	// request after a while (the TypeScript SDK after 60s, progress or
	// not), and a call they gave up on would be work lost to the agent.
	// 0 means DefaultReplyWithin.
	ReplyWithin time.Duration
	// MaxRedirects is how many redirects one request may follow; 0 means
	// DefaultMaxRedirects, negative none.
	MaxRedirects int

	// StoreTTL is how long a finished call's results stay readable;
	// 0 means DefaultStoreTTL.
	StoreTTL time.Duration
	// StoreBytes bounds the bodies kept for all calls together; the
	// oldest finished calls are forgotten first to make room. 0 means
	// DefaultStoreBytes.
	StoreBytes int64

	// AllowPrivate lets requests reach loopback, private, link-local,
	// CGNAT and metadata addresses.
	AllowPrivate bool
	// Resolver looks hosts up; nil means net.DefaultResolver.
	Resolver Resolver
	// Logger gets one line per call; nil means slog.Default. It must not
	// write to standard output, which is the protocol's.
	Logger *slog.Logger
	// Version is the server's version, as told to clients.
	Version string
}

// The defaults of Config's zero fields.
const (
	DefaultGlobalConcurrency = 32
	DefaultAttemptTimeout    = 60 * time.Second
	DefaultMaxItems          = 1000
	DefaultMaxRunning        = 16
	DefaultMaxBody           = 1 << 20
	DefaultCallBudget        = 2 * time.Minute
	DefaultReplyWithin       = 45 * time.Second
	DefaultMaxRedirects      = 5
	DefaultStoreTTL          = time.Hour
	DefaultStoreBytes        = 256 << 20
)

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Global.Concurrency <= 0 {
		c.Global.Concurrency = DefaultGlobalConcurrency
	}
	c.Global.FixedConcurrency = true
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.MaxItems <= 0 {
		c.MaxItems = DefaultMaxItems
	}
	if c.MaxRunning <= 0 {
		c.MaxRunning = DefaultMaxRunning
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.CallBudget <= 0 {
		c.CallBudget = DefaultCallBudget
	}
	if c.ReplyWithin <= 0 {
		c.ReplyWithin = DefaultReplyWithin
	}
	switch {
	case c.MaxRedirects == 0:
		c.MaxRedirects = DefaultMaxRedirects
	case c.MaxRedirects < 0:
		c.MaxRedirects = 0
	}
	if c.StoreTTL <= 0 {
		c.StoreTTL = DefaultStoreTTL
	}
	if c.StoreBytes <= 0 {
		c.StoreBytes = DefaultStoreBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}
