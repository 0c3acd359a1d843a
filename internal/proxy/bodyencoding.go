package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// estimable returns the body of req as the token estimate must read it:
// decompressed when the client compressed it (Content-Encoding gzip or
// deflate), as an SDK may, up to the route's body limit. The upstream
// still gets the bytes the client sent; only the estimate reads through
// the encoding. An encoding the proxy cannot read, or a body that is not
// what its header says, is an error naming it.
func (r *route) estimable(req *http.Request, body []byte) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	var zr io.Reader
	var err error
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		zr, err = zlib.NewReader(bytes.NewReader(body))
	default:
		return nil, fmt.Errorf("the request body is compressed with %q, which the proxy cannot read for its token estimate: send it as gzip, deflate or uncompressed", enc)
	}
	limit := r.maxBody()
	if err == nil {
		var plain []byte
		plain, err = io.ReadAll(io.LimitReader(zr, limit+1))
		if err == nil && int64(len(plain)) > limit {
			return nil, fmt.Errorf("the request body, once decompressed (Content-Encoding %s), is more than the route's %d bytes", enc, limit)
		}
		if err == nil {
			return plain, nil
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("it ends early")
	}
	return nil, fmt.Errorf("the request body says Content-Encoding %s but is not: %v", enc, err)
}
