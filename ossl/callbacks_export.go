package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// The functions below are called by the C trampolines of cachemode_cgo.c.
// Each recovers every panic: nothing may unwind through libssl.

func stateOf(h C.uintptr_t) *ctxState {
	s, _ := cgo.Handle(h).Value().(*ctxState)
	return s
}

//export goCtxStateFree
func goCtxStateFree(h C.uintptr_t) {
	defer func() { _ = recover() }()
	cgo.Handle(h).Delete()
	liveStates.Add(-1)
}

//export goNewSession
func goNewSession(h C.uintptr_t, ssl *C.SSL, sess *C.SSL_SESSION, mode C.long) C.int {
	st := stateOf(h)
	if st == nil {
		return 0
	}
	defer st.recoverInto("new-session callback", nil, nil)
	st.onNewSession(ssl, sess, CacheMode(mode))
	return 0
}

//export goGetSession
func goGetSession(h C.uintptr_t, ssl *C.SSL, id *C.uchar, n C.int, mode C.long) (out *C.SSL_SESSION) {
	st := stateOf(h)
	if st == nil || n < 0 {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			out = nil
			st.n.panics.Add(1)
		}
	}()
	return st.onGetSession(ssl, C.GoBytes(unsafe.Pointer(id), n), CacheMode(mode))
}

//export goRemoveSession
func goRemoveSession(h C.uintptr_t, sess *C.SSL_SESSION) {
	st := stateOf(h)
	if st == nil {
		return
	}
	defer st.recoverInto("remove-session callback", nil, nil)
	st.onRemoveSession(sess)
}

//export goSelectServerCtx
func goSelectServerCtx(h C.uintptr_t, ssl *C.SSL) (out *C.SSL_CTX) {
	st := stateOf(h)
	if st == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			out = nil
			st.n.panics.Add(1)
		}
	}()
	return st.onServerName(ssl)
}

//export goNoopCallback
func goNoopCallback(h C.uintptr_t) {}
