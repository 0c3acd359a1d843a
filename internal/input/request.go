package input

// ParseRequest validates one request object of the http format,
// {"id", "method", "url", "headers", "body"}, exactly as a line of an http
// input is validated (see FormatHTTP), for callers that get requests one
// by one rather than as lines (the MCP tools). n is the request's 1-based
// position: the id when the object has none, and the Line of the item and
// of the error. URLs must be absolute: there is no base URL. The error is
// a BadLine whose Reason says what is wrong.
//
// Safe for concurrent use; it costs what parsing one line costs.
func ParseRequest(obj []byte, n int) (Item, error) {
	var r Reader
	it, reason := r.parseHTTPLine(obj, n)
	if reason != "" {
		return Item{}, BadLine{Line: n, Reason: reason}
	}
	it.Line = n
	return it, nil
}
