package proxy

import "sync"

// copyBuffers lends the ReverseProxy the buffers it copies response
// bodies through. Without it each response allocated 32 KiB, most of the
// proxy's garbage under load.
var copyBuffers bufferPool

// bufferPool is an httputil.BufferPool of 32 KiB buffers, safe for
// concurrent use. The pool holds arrays, not slices: a slice put in a
// sync.Pool is boxed, one allocation per Put.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return buf[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
}
