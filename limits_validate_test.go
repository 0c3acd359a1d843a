package sluice

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	for _, tt := range []struct {
		l    Limits
		want string // "" for valid
	}{
		{Limits{}, ""},
		{Limits{Concurrency: 4, Rate: PerSecond(10), Window: Rate{N: 100, Per: time.Minute}, Tokens: Rate{N: 1000, Per: time.Minute}}, ""},
		{Limits{Rate: Rate{N: 2}}, "Limits.Rate: rate 2/0s: period must be positive"},
		{Limits{Tokens: Rate{N: -1, Per: time.Second}}, "Limits.Tokens: rate -1: count must be a positive number"},
		{Limits{Window: Rate{N: 0.5, Per: time.Second}}, "Limits.Window: "},
		{Limits{Concurrency: -1}, "Limits.Concurrency: -1"},
		{Limits{Burst: -2}, "Limits.Burst: -2"},
		{Limits{MaxPause: -time.Second}, "Limits.MaxPause: -1s"},
	} {
		err := tt.l.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v; want valid", tt.l, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrBadLimits)):
			t.Errorf("%+v: %v; want ErrBadLimits naming %q", tt.l, err, tt.want)
		}
	}
}

// Limits a Transport cannot keep fail its calls with the reason: a
// Window of 0.5/s panicked inside RoundTrip on the first call (the gate
// is made then), which net/http does not recover; Rate{N: 100} with no
// period was paced at 100 per 6ms without a word. Nothing is sent.
func TestTransportRefusesBadLimits(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	for _, l := range []Limits{{Window: Rate{N: 0.5, Per: time.Second}}, {Rate: Rate{N: 100}}} {
		c := &http.Client{Transport: &Transport{Limits: l}}
		for range 2 {
			resp, err := c.Get(srv.URL)
			if err == nil {
				resp.Body.Close()
			}
			if !errors.Is(err, ErrBadLimits) {
				t.Errorf("%+v: %v; want ErrBadLimits", l, err)
			}
		}
	}
	if n := got.Load(); n != 0 {
		t.Errorf("the server got %d requests; want none", n)
	}
}

func TestNewGatePanicsOnBadLimits(t *testing.T) {
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, ErrBadLimits) || !strings.Contains(err.Error(), "Limits.Rate") {
			t.Errorf("NewGate panicked with %v; want ErrBadLimits naming Limits.Rate", err)
		}
	}()
	Limits{Rate: Rate{N: 2}}.NewGate()
}
