package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"unsafe"
)

// The functions below are called by the C trampolines of cachemode_cgo.c.
// Each recovers every panic: nothing may unwind through libssl.

//export goCtxStateFree
func goCtxStateFree(h C.uintptr_t) {
	defer func() { _ = recover() }()
	if st := stateOf(h); st != nil {
		st.release()
	}
}

//export goNewSession
func goNewSession(h C.uintptr_t, ssl *C.SSL, sess *C.SSL_SESSION, mode C.long) (took C.int) {
	defer func() {
		if r := recover(); r != nil {
			took = 0
		}
	}()
	st := stateOf(h)
	if st == nil {
		return 0
	}
	defer st.recoverInto("new-session callback", nil, nil)
	return b2i(st.onNewSession(ssl, sess, CacheMode(mode)))
}

//export goGetSession
func goGetSession(h C.uintptr_t, ssl *C.SSL, id *C.uchar, n C.int, mode C.long) (out *C.SSL_SESSION) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
		}
	}()
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
func goRemoveSession(h C.uintptr_t, id *C.uchar, n C.int, clientKey *C.char) {
	defer func() { _ = recover() }()
	st := stateOf(h)
	if st == nil || n < 0 {
		return
	}
	defer st.recoverInto("remove-session callback", nil, nil)
	key := ""
	if clientKey != nil {
		key = C.GoString(clientKey)
	}
	st.onRemoveSession(C.GoBytes(unsafe.Pointer(id), n), key)
}

//export goRemoveSkipped
func goRemoveSkipped(h C.uintptr_t) {
	defer func() { _ = recover() }()
	if st := stateOf(h); st != nil {
		st.n.removeSkipped.Add(1)
	}
}

//export goSelectServerCtx
func goSelectServerCtx(h C.uintptr_t, ssl *C.SSL, alert *C.int) (out *C.SSL_CTX) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
			*alert = C.int(AlertInternalError)
		}
	}()
	st := stateOf(h)
	if st == nil {
		return nil
	}
	to, a := st.onServerName(ssl)
	*alert = C.int(a)
	return to
}

//export goNoopCallback
func goNoopCallback(h C.uintptr_t) {}
