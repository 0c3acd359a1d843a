package mcp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sluicehq/sluice"
)

func limitsOf(concurrency int) sluice.Limits { return sluice.Limits{Concurrency: concurrency} }

func TestListTools(t *testing.T) {
	_, cs := session(t, Config{MaxItems: 250}, nil)
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("%s: input schema %v, output schema %v; want both", tool.Name, tool.InputSchema, tool.OutputSchema)
		}
		if tool.Name == "fetch_many" {
			for _, want := range []string{"instead of calling a single fetch tool in a loop", "at most 250 items per call", "refused"} {
				if !strings.Contains(tool.Description, want) {
					t.Errorf("fetch_many description lacks %q:\n%s", want, tool.Description)
				}
			}
		}
	}
	slices.Sort(names)
	if want := []string{"cancel", "fetch_many", "get_results"}; !slices.Equal(names, want) {
		t.Errorf("tools %v, want %v", names, want)
	}
}

// TestFetchMany500WithinLimitsAndPaged is the main case: 500
// URLs in one call, never more in flight than the limit, every result
// read back page by page, in input order.
func TestFetchMany500WithinLimitsAndPaged(t *testing.T) {
	for _, tc := range []struct {
		name         string
		global, host int
	}{
		{"global limit binds", 5, 8},
		{"host limit binds", 32, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newPeakServer(t, 2e6) // 2ms
			cfg := Config{AllowPrivate: true}
			cfg.Global.Concurrency = tc.global
			cfg.Host.Concurrency = tc.host
			_, cs := session(t, cfg, nil)
			rep, res := callTool(t, cs, "fetch_many", map[string]any{"urls": urls(api.URL, 500), "page_size": 20})
			limit := int64(min(tc.global, tc.host))
			if peak := api.peak.Load(); peak > limit || peak < 1 {
				t.Errorf("peak concurrency at the API %d, want 1 to %d", peak, limit)
			}
			s := rep.Summary
			if s.State != stateDone || s.Total != 500 || s.Succeeded != 500 || s.Failed != 0 || s.ByStatus["200"] != 500 {
				t.Fatalf("summary %+v, want done, 500 of 500 succeeded", s)
			}
			if len(rep.Items) != 20 || rep.NextOffset != 20 {
				t.Fatalf("first page: %d items, next %d; want 20, 20", len(rep.Items), rep.NextOffset)
			}
			if txt := textOfResult(res); !strings.Contains(txt, "500 succeeded") || !strings.Contains(txt, "get_results handle="+s.Handle+" offset=20") {
				t.Errorf("text lacks the summary or the next step:\n%.600s", txt)
			}
			seen := 0
			for offset := 0; offset >= 0; {
				page, _ := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle, "offset": offset, "limit": 100})
				for _, it := range page.Items {
					if it.Index != seen || it.ID != fmt.Sprint(seen+1) || !it.OK || it.Status != 200 || it.Text != fmt.Sprintf("page /%d", seen) {
						t.Fatalf("item %d: %+v", seen, it)
					}
					seen++
				}
				offset = page.NextOffset
				if offset == 0 {
					break
				}
			}
			if seen != 500 {
				t.Errorf("paged through %d items, want 500", seen)
			}
			if served := api.served.Load(); served != 500 {
				t.Errorf("the API served %d requests, want 500 (paging must not fetch again)", served)
			}
		})
	}
}

func TestFailedItemsAreNotAToolError(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, `{"error":{"message":"no such page"}}`, http.StatusNotFound)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			fmt.Fprint(w, "fine")
		}
	}))
	defer api.Close()
	cfg := Config{AllowPrivate: true}
	cfg.Retry.MaxAttempts = 1
	_, cs := session(t, cfg, nil)
	rep, res := callTool(t, cs, "fetch_many", map[string]any{"urls": []string{api.URL + "/a", api.URL + "/missing", api.URL + "/broken", "ftp://example.com/x"}})
	if res.IsError {
		t.Fatal("partial failure made a tool error")
	}
	s := rep.Summary
	if s.Succeeded != 1 || s.Failed != 3 || s.ByStatus["404"] != 1 || s.ByStatus["500"] != 1 || s.ByError["invalid"] != 1 || s.ByError["http_4xx"] != 1 || s.ByError["http_5xx"] != 1 {
		t.Errorf("summary %+v", s)
	}
	want := []struct {
		ok     bool
		status int
		class  string
		err    string
	}{
		{true, 200, "", ""},
		{false, 404, "http_4xx", "404 Not Found: no such page"},
		{false, 500, "http_5xx", "500 Internal Server Error"},
		{false, 0, "invalid", `unsupported URL scheme "ftp" (want http or https)`},
	}
	for i, w := range want {
		it := rep.Items[i]
		if it.OK != w.ok || it.Status != w.status || it.ErrorClass != w.class || it.Error != w.err {
			t.Errorf("item %d: %+v; want ok %v status %d class %q error %q", i, it, w.ok, w.status, w.class, w.err)
		}
	}
	failed, _ := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle, "filter": "failed"})
	if len(failed.Items) != 3 || failed.Items[0].Index != 1 {
		t.Errorf("filter=failed: %+v", failed.Items)
	}
	ok, _ := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle, "filter": "ok"})
	if len(ok.Items) != 1 || ok.Items[0].Index != 0 {
		t.Errorf("filter=ok: %+v", ok.Items)
	}
}

func TestRequestsValidatedAsRunLines(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		fmt.Fprintf(b, "%s %s %s %s ", r.Method, r.URL.Path, r.Header.Get("X-Trace"), r.Header.Get("Content-Type"))
		buf := make([]byte, 100)
		n, _ := r.Body.Read(buf)
		b.Write(buf[:n])
		fmt.Fprint(w, b.String())
	}))
	defer api.Close()
	_, cs := session(t, Config{AllowPrivate: true, Global: limitsOf(1)}, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"requests": []map[string]any{
		{"id": "a", "url": api.URL + "/x", "headers": map[string]any{"X-Trace": "t1"}, "body": map[string]any{"q": 1}},
		{"id": 7, "method": "delete", "url": api.URL + "/y"},
		{"url": api.URL + "/z", "headers": map[string]any{"bad name": "v"}},
		{"id": "csv", "url": api.URL + "/c", "headers": map[string]any{"Content-Type": "text/csv"}, "body": "a,b"},
	}})
	items := rep.Items
	// A body goes out labelled JSON, as sluice run sends it, unless the
	// request names its own type: a JSON body without one was refused by
	// most JSON APIs (outside review).
	if items[0].ID != "a" || items[0].Text != `POST /x t1 application/json {"q":1}` {
		t.Errorf("item 0: %+v", items[0])
	}
	if items[1].ID != "7" || items[1].Text != "DELETE /y   " {
		t.Errorf("item 1: %+v", items[1])
	}
	if items[3].ID != "csv" || items[3].Text != "POST /c  text/csv a,b" {
		t.Errorf("item 3: %+v", items[3])
	}
	if items[2].ID != "3" || items[2].ErrorClass != "invalid" || items[2].Error != `bad header name "bad name"` {
		t.Errorf("item 2: %+v", items[2])
	}
}

func TestItemCapIsAToolErrorNamingTheCap(t *testing.T) {
	api := newPeakServer(t, 0)
	_, cs := session(t, Config{AllowPrivate: true, MaxItems: 5}, nil)
	res, err := callErr(t.Context(), cs, "fetch_many", map[string]any{"urls": urls(api.URL, 6)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(textOfResult(res), "6 items is over this server's cap of 5 items per fetch_many call") {
		t.Errorf("IsError %v, text %q; want the cap named", res.IsError, textOfResult(res))
	}
	if api.served.Load() != 0 {
		t.Errorf("%d requests sent over the cap, want none", api.served.Load())
	}
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": urls(api.URL, 5)})
	if rep.Summary.Succeeded != 5 {
		t.Errorf("5 items at the cap: %+v", rep.Summary)
	}
}

func TestBodyCapAndReadingOneBodyInParts(t *testing.T) {
	big := strings.Repeat("0123456789", 500) // 5000 bytes
	var served atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, big)
	}))
	defer api.Close()
	_, cs := session(t, Config{AllowPrivate: true, MaxBody: 3000}, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": []string{api.URL}, "max_length": 1000})
	it := rep.Items[0]
	if !it.OK || !it.Truncated || it.Size != 3000 || it.Text != big[:1000] || it.MoreFrom != 1000 {
		t.Fatalf("item: ok %v truncated %v size %d text %d bytes more_from %d; want true true 3000 1000 1000", it.OK, it.Truncated, it.Size, len(it.Text), it.MoreFrom)
	}
	part, _ := callTool(t, cs, "get_results", map[string]any{"handle": rep.Summary.Handle, "offset": 0, "limit": 1, "start_index": 1000, "max_length": 100000})
	if p := part.Items[0]; p.Text != big[1000:3000] || p.MoreFrom != 0 {
		t.Errorf("the rest: %d bytes, more_from %d; want 2000 bytes, 0", len(p.Text), p.MoreFrom)
	}
	// Past the end of what was kept, the page says so: an empty text
	// alone reads as an empty body.
	past, _ := callTool(t, cs, "get_results", map[string]any{"handle": rep.Summary.Handle, "offset": 0, "limit": 1, "start_index": 4000})
	if p := past.Items[0]; p.Text != "" || !strings.Contains(past.Note, "start_index 4000 is past the end of the body kept: item 0 keeps 3000 bytes") {
		t.Errorf("start_index past the kept body: text %d bytes, note %q; want no text and a note naming the 3000 bytes kept", len(p.Text), past.Note)
	}
	if n := served.Load(); n != 1 {
		t.Errorf("the API served %d requests, want 1: bodies come from the store", n)
	}
}

// TestProgressNotifications: a client that asks for progress gets it
// while the call runs, and none at the end: the result says as much, and
// a client may handle a notification later than the result that follows
// it (the TypeScript SDK does), taking it for one of an unknown request.
func TestProgressNotifications(t *testing.T) {
	api := newPeakServer(t, 30*time.Millisecond)
	progress := make(chan *sdk.ProgressNotificationParams, 1000)
	_, cs := session(t, Config{AllowPrivate: true}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) { progress <- r.Params },
	})
	// 200 calls of 30ms, a few at once, span several 250ms ticks (60 calls
	// took about 240ms, and the test failed 2 runs in 5).
	params := &sdk.CallToolParams{Name: "fetch_many", Arguments: map[string]any{"urls": urls(api.URL, 200)}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(t.Context(), params)
	if err != nil || res.IsError {
		t.Fatal(err, textOfResult(res))
	}
	cs.Close() // every notification sent has been handled once the session is closed
	n := 0
	for len(progress) > 0 {
		p := <-progress
		n++
		if p.ProgressToken != "tok-1" || p.Total != 200 {
			t.Errorf("progress %+v; want token tok-1, total 200", p)
		}
		if p.Progress >= 200 {
			t.Errorf("progress %v of 200: sent as the call ended, racing its result", p.Progress)
		}
	}
	if n == 0 {
		t.Error("no progress notification during a call of several progress ticks")
	}
}
