package sluice

import (
	"fmt"
	"runtime/debug"
)

// PanicError is the value Pool.Run panics with when the function it runs,
// or the items' iterator, panicked: the value it panicked with and the
// stack of the goroutine that raised it. Run raises the panic again in its
// caller's goroutine, once every goroutine it started has ended; raised
// bare there, the value would carry the caller's stack, not the one that
// says where the function went wrong (outside review). The runtime prints
// a panic whose value is an error with its Error, so a crash shows both
// stacks.
//
// Recover it with errors.As, or read Value for what fn panicked with.
type PanicError struct {
	// Value is what the function panicked with.
	Value any
	// Stack is the panicking goroutine's stack (runtime/debug.Stack),
	// taken as the panic was recovered.
	Stack []byte
}

// Error implements error: the panic's value, then its goroutine's stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("sluice: panic in a Pool's function: %v\n\n[the stack where it panicked]\n%s", p.Value, p.Stack)
}

// Unwrap returns Value when it is an error, so that errors.Is and
// errors.As see through to what fn panicked with.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// recovered wraps v, a value just recovered, with the stack of the
// goroutine recovering it: called in the deferred function, the stack
// still holds the frames that panicked.
func recovered(v any) *PanicError {
	if p, ok := v.(*PanicError); ok {
		return p // a nested Pool's: its stack is the one that says where
	}
	return &PanicError{Value: v, Stack: debug.Stack()}
}
