package proxy

import "sync"

// copyBuffers lends the ReverseProxy the buffers it copies response
// bodies through. Without it each response allocated 32 KiB, most of the
// proxy's garbage under load.
var copyBuffers bufferPool

// bufferPool is an httputil.BufferPool of 32 KiB buffers, safe for
// concurrent use.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	buf = buf[:copyBufferSize]
	b.p.Put(&buf)
}
