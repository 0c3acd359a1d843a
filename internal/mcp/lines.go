package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// LineTransport is an sdk.Transport of newline-delimited JSON-RPC over a
// reader and a writer (os.Stdin and os.Stdout for sluice mcp) that
// survives bad input. The go-sdk's own stdio transport closes the
// connection on the first line that is not a JSON-RPC message, which ends
// the server and every call it runs; LineTransport instead answers such
// a line with a JSON-RPC error (-32700 parse error, or -32600 invalid
// request, with id null unless the line named one) and reads on.
//
// It reads the lines itself, passes the valid ones to the go-sdk's
// IOTransport through a pipe, and writes its error answers through the
// same lock as the go-sdk's messages, so that the two never interleave
// (the go-sdk writes each message, newline included, in one Write).
// The answer to a request the client cancelled (notifications/cancelled)
// is not written: the spec asks that none be sent, and the go-sdk answers
// every request, which the TypeScript SDK reports as a response to an
// unknown request.
// Batches (JSON arrays) are answered with -32600: MCP dropped them in
// protocol 2025-06-18, and the go-sdk would close the connection on one.
//
// Use a LineTransport for one Connect. Its zero value is not usable: set
// Reader and Writer. The goroutine that reads the lines ends when Reader
// ends or fails, or when the connection is closed and a line arrives
// (a blocked read of standard input cannot be interrupted).
type LineTransport struct {
	Reader io.Reader // closed with the connection when it is an io.Closer
	Writer io.Writer // never closed
	// MaxLineLength bounds one line; a longer one is answered with
	// -32600 and skipped. 0 means sdk.DefaultMaxLineLength.
	MaxLineLength int
}

// Connect implements sdk.Transport.
func (t *LineTransport) Connect(ctx context.Context) (sdk.Connection, error) {
	limit := t.MaxLineLength
	if limit <= 0 {
		limit = sdk.DefaultMaxLineLength
	}
	w := &lockedWriter{w: t.Writer}
	pr, pw := io.Pipe()
	go func() {
		err := copyValidLines(t.Reader, pw, w, limit, w.cancelled)
		pw.CloseWithError(err) // nil: io.EOF for the go-sdk's reader
	}()
	inner := &sdk.IOTransport{Reader: pipeReader{pr, t.Reader}, Writer: w, MaxLineLength: -1}
	return inner.Connect(ctx)
}

// pipeReader closes the pipe and the source it is fed from.
type pipeReader struct {
	*io.PipeReader
	src io.Reader
}

func (p pipeReader) Close() error {
	p.PipeReader.Close()
	if c, ok := p.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// lockedWriter makes each Write whole: the go-sdk's messages and
// LineTransport's error answers share its lock. It drops the responses
// to the requests the client cancelled.
type lockedWriter struct {
	mu       sync.Mutex
	w        io.Writer
	canceled map[string]bool // request ids, as idKey writes them
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.canceled) > 0 {
		var head struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(p, &head) == nil && head.Method == "" && head.ID != nil {
			if k := idKey(head.ID); l.canceled[k] {
				delete(l.canceled, k)
				return len(p), nil
			}
		}
	}
	return l.w.Write(p)
}

// cancelled records that the client cancelled the request id.
func (l *lockedWriter) cancelled(id json.RawMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.canceled == nil || len(l.canceled) >= maxCanceled {
		l.canceled = make(map[string]bool) // answered before their cancellation came, most likely
	}
	l.canceled[idKey(id)] = true
}

// maxCanceled bounds the ids of cancelled requests remembered.
const maxCanceled = 1024

// idKey writes a request id one way whatever its spelling (7, 7.0).
func idKey(id json.RawMessage) string {
	var v any
	if json.Unmarshal(id, &v) != nil {
		return string(id)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (l *lockedWriter) Close() error { return nil }

// copyValidLines copies each JSON-RPC message of src, one a line, to dst,
// and answers each line that is not one on errs; it tells cancelled the
// id of each request the client cancels, before passing the cancellation
// on. It returns nil at the end of src, or the error that stopped it.
func copyValidLines(src io.Reader, dst io.Writer, errs io.Writer, limit int, cancelled func(id json.RawMessage)) error {
	r := bufio.NewReaderSize(src, 64<<10)
	for {
		line, tooLong, id, err := readLine(r, limit)
		if len(bytes.TrimSpace(line)) > 0 || tooLong {
			answer := checkLine(line, tooLong, id, limit)
			if answer != nil {
				if _, werr := errs.Write(answer); werr != nil {
					return werr
				}
			} else {
				if id := cancelledID(line); id != nil && cancelled != nil {
					cancelled(id)
				}
				if _, werr := dst.Write(append(line, '\n')); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readLine reads one line without its end, keeping at most limit bytes
// of it; tooLong says there was more, and id is then the line's id, if
// it has one (idScanner).
func readLine(r *bufio.Reader, limit int) (line []byte, tooLong bool, id json.RawMessage, err error) {
	var ids idScanner
	for {
		frag, err := r.ReadSlice('\n')
		switch {
		case tooLong:
			ids.feed(frag)
		case len(line)+len(frag) > limit+1: // +1: the newline
			tooLong = true
			ids.feed(line)
			ids.feed(frag)
			line = nil
		default:
			line = append(line, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, ids.id, err
	}
}

// checkLine returns the JSON-RPC error answering line, newline included,
// or nil when line is a JSON-RPC message to pass on; id is a line too
// long to keep's own.
func checkLine(line []byte, tooLong bool, id json.RawMessage, limit int) []byte {
	switch {
	case tooLong:
		return errorAnswer(id, jsonrpc.CodeInvalidRequest, "invalid request: a message over "+strconv.Itoa(limit)+" bytes was skipped")
	case !json.Valid(line):
		return errorAnswer(nil, jsonrpc.CodeParseError, "parse error: the line is not JSON; send one JSON-RPC 2.0 message a line")
	}
	trimmed := bytes.TrimSpace(line)
	if trimmed[0] == '[' {
		return errorAnswer(nil, jsonrpc.CodeInvalidRequest, "invalid request: JSON-RPC batches are not supported; send one message a line")
	}
	if trimmed[0] != '{' {
		return errorAnswer(nil, jsonrpc.CodeInvalidRequest, "invalid request: want a JSON-RPC 2.0 message, a JSON object")
	}
	_, err := jsonrpc.DecodeMessage(trimmed)
	if err == nil {
		return nil
	}
	var head struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
	}
	json.Unmarshal(trimmed, &head)
	msg := "invalid request: want a JSON-RPC 2.0 message with a method (or a result or error, and an id)"
	if head.Version != "2.0" {
		msg = `invalid request: want "jsonrpc": "2.0"`
	}
	return errorAnswer(validID(head.ID), jsonrpc.CodeInvalidRequest, msg)
}

// cancelledID returns the id of the request a notifications/cancelled
// line cancels, nil for other lines.
func cancelledID(line []byte) json.RawMessage {
	if !bytes.Contains(line, []byte("notifications/cancelled")) {
		return nil
	}
	var n struct {
		Method string `json:"method"`
		Params struct {
			RequestID json.RawMessage `json:"requestId"`
		} `json:"params"`
	}
	if json.Unmarshal(line, &n) != nil || n.Method != "notifications/cancelled" {
		return nil
	}
	return validID(n.Params.RequestID)
}

// validID returns id when it is a string or a number, nil otherwise.
func validID(id json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(id, &v) != nil {
		return nil
	}
	switch v.(type) {
	case string, float64:
		return id
	}
	return nil
}

// errorAnswer encodes a JSON-RPC error response to id (null when nil).
func errorAnswer(id json.RawMessage, code int, message string) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	type wireError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	data, err := json.Marshal(struct {
		Version string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   wireError       `json:"error"`
	}{"2.0", id, wireError{code, message}})
	if err != nil {
		panic(errors.New("mcp: encoding a JSON-RPC error: " + err.Error())) // fixed types: cannot fail
	}
	return append(data, '\n')
}
