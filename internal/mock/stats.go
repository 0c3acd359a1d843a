package mock

import (
	"encoding/json"
	"maps"
	"net/http"
)

// Stats is what a Server saw. GET /__stats serves it as JSON. Requests to
// /__stats are not counted.
//
// Once no request is in progress, Requests = Accepted + ThrottledTotal() +
// Failed + Resets + Invalid + Canceled.
type Stats struct {
	// Requests is every request that arrived.
	Requests int64 `json:"requests"`
	// Accepted is the requests answered 2xx.
	Accepted int64 `json:"accepted"`
	// Throttled counts 429s by reason: "quota", "concurrency", "requests",
	// "input_tokens", "output_tokens" or "tokens" (only reasons that
	// occurred appear).
	Throttled map[string]int64 `json:"throttled"`
	// Failed is the injected 5xx and 529 answers.
	Failed int64 `json:"failed"`
	// Resets is the connections reset without an answer.
	Resets int64 `json:"resets"`
	// Invalid is the requests the API refused to read: 400 from
	// validation, 404 for unknown paths, 405, 413.
	Invalid int64 `json:"invalid"`
	// Canceled is the admitted requests whose client went away (or whose
	// server closed) before the response began.
	Canceled int64 `json:"canceled"`
	// InFlight is the admitted requests being served now.
	InFlight int64 `json:"in_flight"`
	// PeakConcurrency is the most admitted requests in flight at once:
	// those that passed every limit, from admission until their response
	// (success or injected fault) ended. Refused and invalid requests never
	// count, so it never exceeds Config.Concurrency.
	PeakConcurrency int64 `json:"peak_concurrency"`
	// PeakArriving is the most requests being handled at once, refused
	// ones included: how hard the clients pushed, where PeakConcurrency is
	// how much the API let through.
	PeakArriving int64 `json:"peak_arriving"`
	// PeakConnections is the most client connections open at once, for a
	// server made with Start: what a client without a bound costs the
	// API (and itself) in sockets.
	PeakConnections int64 `json:"peak_connections"`
	// InputTokens and OutputTokens are the tokens of accepted requests.
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// ThrottledTotal returns the 429s for every reason.
func (s Stats) ThrottledTotal() int64 {
	var n int64
	for _, v := range s.Throttled {
		n += v
	}
	return n
}

// Stats returns a copy of what the Server has seen so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Throttled = maps.Clone(s.stats.Throttled)
	st.InFlight = s.inFlight
	return st
}

// serveStats answers GET /__stats.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "mock: "+statsPath+" answers GET only", http.StatusMethodNotAllowed)
		return
	}
	b, _ := json.MarshalIndent(s.Stats(), "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
