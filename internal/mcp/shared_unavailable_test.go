package mcp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/storetest"
)

// The shared limits' outage (a store in closed mode that cannot be
// reached) was reported as a "network" failure, as if the host had
// failed, and under the global limits each item was retried as
// transient, asking the store that was down again and again. Each item
// now fails at once, not sent, as shared_unavailable, saying that nothing
// is wrong with it and to call again later.
func TestSharedLimitsUnavailableFailItemsAtOnceSayingSo(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  func(*storetest.DownStore) Config
	}{
		{"host limits", func(s *storetest.DownStore) Config {
			return Config{AllowPrivate: true, Host: sluice.Limits{Store: s}}
		}},
		{"global limits", func(s *storetest.DownStore) Config {
			return Config{AllowPrivate: true, Global: sluice.Limits{Store: s}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var served atomic.Int64
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				w.Write([]byte("ok"))
			}))
			defer api.Close()
			store := &storetest.DownStore{}
			_, cs := session(t, c.cfg(store), nil)
			res, err := callErr(t.Context(), cs, "fetch_many", map[string]any{"urls": urls(api.URL, 3), "page_size": 3})
			if err != nil {
				t.Fatal(err)
			}
			// Not one item could be tried: a failed call, so that an
			// agent reading only isError does not take it for a success.
			if !res.IsError || !strings.Contains(textOfResult(res), "nothing was sent: this server's shared limits cannot be reached") {
				t.Errorf("isError %v, text %q; want a failed call saying nothing was sent", res.IsError, textOfResult(res))
			}
			rep := decode(t, res)
			s := rep.Summary
			if s.State != stateDone || s.Failed != 3 || s.ByError[errSharedUnavailable] != 3 || s.Rate != 0 {
				t.Fatalf("summary %+v; want done, 3 failed as shared_unavailable, none counted as sent", s)
			}
			for _, it := range rep.Items {
				if !strings.Contains(it.Error, "not sent: the shared limits (a test store) cannot be reached") || !strings.Contains(it.Error, "call again later") || it.Attempts != 0 {
					t.Errorf("item %d: %q after %d attempts; want not sent, none", it.Index, it.Error, it.Attempts)
				}
			}
			if n := store.Asked.Load(); n != 3 {
				t.Errorf("the store was asked %d times for 3 items, want 3: not retried", n)
			}
			if n := served.Load(); n != 0 {
				t.Errorf("the host got %d requests, want none", n)
			}
		})
	}
}
