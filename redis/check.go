package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice"
)

// ErrRefused matches what Check returns when Redis answered but refused
// to serve this Store: a database index out of range, a wrong password,
// TLS asked of a server that does not speak it (or a certificate not
// trusted). No retry fixes it: a command should stop with a usage error
// rather than run on limits that are not shared.
var ErrRefused = errors.New("redis: refused")

// checkTimeout bounds Check: longer than a call, since a first connection
// also dials and authenticates, and short enough not to delay a start.
const checkTimeout = time.Second

// Check asks Redis once whether it can serve this Store: PING, then the
// scripts loaded. It returns nil when it can; an error matching ErrRefused
// when Redis answered with an error (or the TLS handshake or the
// authentication failed), which no Mode should paper over; and an error
// matching ErrUnavailable when Redis did not answer in time, an outage
// that the Mode handles (the Store then starts as down, and warns once).
// It takes at most a second, or CallTimeout if longer. Safe for
// concurrent use.
func (s *Store) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(s.opt.CallTimeout, checkTimeout))
	defer cancel()
	err := s.ping(ctx)
	for _, sc := range []*goredis.Script{admitScript, finishScript, renewScript, sentScript, pauseScript, learnScript} {
		if err != nil {
			break
		}
		err = sc.Load(ctx, s.client).Err()
	}
	switch {
	case err == nil:
		return nil
	case refused(err):
		return fmt.Errorf("%w: %s answered: %v", ErrRefused, s.where(), err)
	case s.speaksPlain():
		return fmt.Errorf("%w: %s: the server answers without TLS (use redis://, not rediss://): %v", ErrRefused, s.where(), err)
	}
	s.down(err)
	return &unavailableError{where: s.where(), err: err}
}

// ping sends PING when the client can (Client, Cluster and Ring can).
func (s *Store) ping(ctx context.Context) error {
	p, ok := s.client.(interface {
		Ping(context.Context) *goredis.StatusCmd
	})
	if !ok {
		return nil
	}
	return p.Ping(ctx).Err()
}

// speaksPlain reports whether a client asking for TLS talks to a server
// that answers plain Redis: such a server waits for the rest of what it
// takes for a command, and the TLS handshake times out as if the server
// were down. One PING in plain text, with a short timeout, tells.
func (s *Store) speaksPlain() bool {
	c, ok := s.client.(*goredis.Client)
	if !ok || c.Options().TLSConfig == nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", c.Options().Addr, s.opt.CallTimeout)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(s.opt.CallTimeout))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return false
	}
	return b[0] == '+' || b[0] == '-' // +PONG, or -NOAUTH: a RESP answer
}

// refused reports whether err is Redis's answer, or a refusal by the TLS
// or authentication layer, rather than silence: a misconfiguration, not
// an outage. Errors a server gives while it starts or fails over are
// outages.
func refused(err error) bool {
	if err == nil {
		return false
	}
	var re goredis.Error
	if errors.As(err, &re) {
		for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"} {
			if goredis.HasErrorPrefix(re, p) {
				return false
			}
		}
		return true
	}
	var (
		header  tls.RecordHeaderError
		alert   tls.AlertError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	return errors.As(err, &header) || errors.As(err, &alert) || errors.As(err, &verify) ||
		errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "tls: ")
}

// where names the Redis this Store talks to, never with its password:
// "Redis at host:port/db", or "Redis" when the client does not say.
func (s *Store) where() string {
	switch c := s.client.(type) {
	case *goredis.Client:
		o := c.Options()
		scheme := ""
		if o.TLSConfig != nil {
			scheme = "rediss://"
		}
		return fmt.Sprintf("Redis at %s%s/%d", scheme, o.Addr, o.DB)
	case *goredis.ClusterClient:
		return "Redis Cluster at " + strings.Join(c.Options().Addrs, ",")
	}
	return "Redis"
}

// String describes the Store for a start line: "Redis at host:port/db as
// NAME (mode local)". It never includes a password.
func (s *Store) String() string {
	if s.opt.Processes > 1 {
		return fmt.Sprintf("%s as %s (mode %s, shared by %d processes)", s.where(), s.name, s.opt.Mode, s.opt.Processes)
	}
	return fmt.Sprintf("%s as %s (mode %s)", s.where(), s.name, s.opt.Mode)
}

// unavailableError is an admission refused in Closed mode, or a Check
// that got no answer: it matches ErrUnavailable and
// sluice.ErrSharedUnavailable, and unwraps to the cause.
type unavailableError struct {
	where string
	err   error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("the shared limits (%s) cannot be reached (%v)", e.where, e.err)
}

func (e *unavailableError) Unwrap() error { return e.err }

func (e *unavailableError) Is(target error) bool {
	return target == ErrUnavailable || target == sluice.ErrSharedUnavailable
}
