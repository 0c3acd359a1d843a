package sluice

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A request whose GetBody cannot give the body (a closed file, a spent
// stream) fails at once with that error, and nothing reaches the API:
// the body failed on its first read after net/http had written the
// headers, so the API got a truncated request, the write error read as
// transient, and it was sent so on every attempt (9 times).
func TestGetBodyFailureSendsNothing(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	gone := errors.New("the file is closed")
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"a":1}`))
	req.GetBody = func() (io.ReadCloser, error) { return nil, gone }
	info := new(RoundTripInfo)
	req = req.WithContext(WithRoundTripInfo(req.Context(), info))
	tr := &Transport{}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, gone) || got.Load() != 0 || info.Attempts != 1 {
		t.Errorf("err %v, server got %d, attempts %d; want the GetBody error, nothing sent, one attempt", err, got.Load(), info.Attempts)
	}
	if st := tr.Gate(srv.Listener.Addr().String()).Stats(); st.InFlight != 0 {
		t.Errorf("gate stats %+v; want the permit given back", st)
	}
}
