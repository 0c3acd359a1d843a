// Package mcp is sluice's MCP server: tools that let an LLM agent fetch
// many URLs or HTTP requests in one call, within limits the operator set
// and the agent cannot exceed, and read back a summary and pages of
// results rather than every body at once.
//
// The tools are fetch_many (start a batch, wait for it or not, get a
// summary, the first page and a handle), get_results (page through a
// batch, or read one body in parts) and cancel (stop a batch, keeping
// what it got). Every call of every session goes through one set of
// limits: a global ceiling and rate, and per-host gates (a host that
// answers 429 pauses alone). Requests to addresses that are not public
// (loopback, private, link-local, CGNAT, metadata) are refused, on the
// address each connection is made to, unless Config.AllowPrivate.
//
// A request takes the road it takes in every face of sluice: input
// (internal/input validates each request as sluice run validates an http
// line) → gate → sluice.Transport → result.
package mcp
