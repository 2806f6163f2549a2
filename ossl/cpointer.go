package ossl

import (
	"sync/atomic"
	"unsafe"
)

// cPointer holds a pointer to C memory (an SSL_CTX, SSL or SSL_SESSION)
// that Close may clear while other goroutines read it. cgo's incomplete C
// types cannot be type arguments of atomic.Pointer.
type cPointer struct{ v unsafe.Pointer }

func (p *cPointer) Load() unsafe.Pointer                 { return atomic.LoadPointer(&p.v) }
func (p *cPointer) Store(v unsafe.Pointer)               { atomic.StorePointer(&p.v, v) }
func (p *cPointer) Swap(v unsafe.Pointer) unsafe.Pointer { return atomic.SwapPointer(&p.v, v) }
