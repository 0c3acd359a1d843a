package sluice

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// A request whose body takes long to write (an 8 MB upload: an image or
// a PDF to an LLM API) left when its headers did, on time: it must not be
// charged to the rate again as a call that left late. Judged by when the
// whole request was written, every such call was charged twice, and a
// proxy at --rate 1/s sent 8 MB uploads at 0.5/s (outside review). Here
// each body takes 30 ms to be read by the API, more than lateSend; the
// connections open at once.
func TestTransportRateDoesNotChargeALongBodyTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, chunk, chunks = 20, 4 << 10, 30
		pn := newPipeNet(func() time.Duration { return 0 })
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			buf := make([]byte, chunk)
			for {
				time.Sleep(time.Millisecond) // a slow link: a chunk a millisecond
				if _, err := io.ReadFull(r.Body, buf); err != nil {
					break
				}
			}
		})}
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.Serve(pn)
		}()
		limits := Limits{Rate: PerSecond(10), Concurrency: 4}
		base := limits.HTTPTransport()
		base.DialContext = pn.DialContext
		tr := &Transport{Limits: limits, Base: base}
		client := &http.Client{Transport: tr}
		body := bytes.Repeat([]byte("x"), chunk*chunks)
		took := callAll(t, n, 4, func() (*http.Response, error) {
			return client.Post("http://api.test/upload", "application/octet-stream", bytes.NewReader(body))
		})
		tr.CloseIdleConnections()
		srv.Close()
		<-served
		iv := apiSafe(PerSecond(10)).Interval()
		if most := (n-1)*iv + 2*chunks*time.Millisecond; took > most {
			t.Errorf("%d uploads took %v, want at most %v: paced once each, not charged again for their long writes", n, took, most)
		}
	})
}
