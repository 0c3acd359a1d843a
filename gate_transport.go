package sluice

import (
	"io"
	"net/http"
)

// GateTransport is an http.RoundTripper that admits every request through
// one Gate before Base sends it, and holds the admission until the
// response body is read to its end or closed. Like a Transport, it counts
// a call against the gate's windows from when its request is written, and
// charges its rates again for a call that left late (a new connection's
// dial): a pace kept at admission is kept at the API. Unlike a Transport,
// it classifies nothing, retries nothing, learns nothing from responses
// and never pauses the gate: use it as the Base of a Transport for one
// limit over requests the Transport sorts into gates of their own (every
// host an agent fetches from, each host's 429s pausing that host alone).
//
// Each request costs one (Cost{}): a token budget of the gate is not
// charged. Set Gate before the first request; a nil Base means
// http.DefaultTransport. Safe for concurrent use.
type GateTransport struct {
	Gate *Gate
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *GateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	permit, err := t.Gate.Acquire(req.Context(), unsentFor(t.Gate, Cost{}))
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(sentBy(req, permit))
	if err != nil {
		permit.Done(Outcome{Class: ClassCanceled})
		return nil, err
	}
	permit.sent() // a Base that reports no write: it has left by now
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		permit.Done(Outcome{}) // nothing to wait for (an upgrade's body is the connection)
		return resp, nil
	}
	resp.Body = &admittedBody{ReadCloser: resp.Body, permit: permit}
	return resp, nil
}

// admittedBody ends its call's admission at the end of the body or when
// it is closed (Permit.Done does nothing the second time).
type admittedBody struct {
	io.ReadCloser
	permit *Permit
}

func (b *admittedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.permit.Done(Outcome{})
	}
	return n, err
}

func (b *admittedBody) Close() error {
	err := b.ReadCloser.Close()
	b.permit.Done(Outcome{})
	return err
}
