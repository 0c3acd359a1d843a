// Package proxy is `sluice proxy`: a local reverse proxy that sends every
// client's requests to an API through one set of limits, so that programs
// in any language share them by pointing their base URL at it.
//
// Over the limit a request waits in a bounded queue, by X-Sluice-Priority
// (an integer, higher first) and then arrival, up to its route's max wait
// or until its client goes away; when the queue is full or the limits
// predict a longer wait it is refused at once with 429, Retry-After and
// RateLimit headers, and a body in the upstream's style, having consumed
// nothing. Upstream 429, 529 and transient errors are retried inside the
// proxy (sluice.Transport); responses, streams included, pass through
// unbuffered.
package proxy
