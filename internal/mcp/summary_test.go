package mcp

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestSummaryCountsWhatWasSent: items carry their elapsed_ms; the rate
// counts only the items sent, not the invalid ones; an offset past the
// end reads an empty page that says so.
func TestSummaryCountsWhatWasSent(t *testing.T) {
	api := newPeakServer(t, 20*time.Millisecond)
	_, cs := session(t, Config{AllowPrivate: true}, nil)
	list := append(urls(api.URL, 3), "ftp://example.com/x", "not a url")
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": list})
	s := rep.Summary
	if s.Succeeded != 3 || s.ByError["invalid"] != 2 {
		t.Fatalf("summary %+v; want 3 succeeded, 2 invalid", s)
	}
	if sent := s.Rate * s.Elapsed; math.Abs(sent-3) > 0.01 {
		t.Errorf("rate %v over %vs counts %v items, want the 3 sent", s.Rate, s.Elapsed, sent)
	}
	for _, it := range rep.Items[:3] {
		if it.ElapsedMS < 20 {
			t.Errorf("item %d: elapsed_ms %d, want at least the API's 20ms", it.Index, it.ElapsedMS)
		}
	}
	page, res := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle, "offset": 500})
	if len(page.Items) != 0 || page.Note != "offset 500 is past the end: the call has 5 results" {
		t.Errorf("offset 500: %d items, note %q", len(page.Items), page.Note)
	}
	if !strings.Contains(textOfResult(res), "past the end") {
		t.Errorf("the text does not say the offset is past the end: %s", textOfResult(res))
	}
	failed, _ := callTool(t, cs, "get_results", map[string]any{"handle": s.Handle, "offset": 2, "filter": "failed"})
	if !strings.Contains(failed.Note, "offset 2 is past the end: the call has 2 failed results") {
		t.Errorf("offset 2 of the failed: note %q", failed.Note)
	}
}

// TestRateLeavesOutCanceledItems: items stopped by cancel, in flight or
// not, do not count in rate_per_second.
func TestRateLeavesOutCanceledItems(t *testing.T) {
	api, _ := stuckServer(t)
	_, cs := session(t, roomForAll, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"urls": append(urls(api.URL+"/fast", 2), urls(api.URL+"/slow", 5)...), "background": true})
	waitFor(t, func() bool {
		r, _ := callTool(t, cs, "get_results", map[string]any{"handle": rep.Summary.Handle})
		return r.Summary.Succeeded == 2
	})
	got, _ := callTool(t, cs, "cancel", map[string]any{"handle": rep.Summary.Handle})
	if s := got.Summary; math.Abs(s.Rate*s.Elapsed-2) > 0.01 {
		t.Errorf("rate %v over %vs counts %v items, want the 2 answered", s.Rate, s.Elapsed, s.Rate*s.Elapsed)
	}
}
