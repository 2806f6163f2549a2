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

//export goGenerateTicket
func goGenerateTicket(h C.uintptr_t, ssl *C.SSL) (ok C.int) {
	defer func() {
		if r := recover(); r != nil {
			ok = 0
		}
	}()
	st := stateOf(h)
	if st == nil {
		return 1
	}
	return b2i(st.onGenerateTicket(ssl))
}

//export goDecryptTicket
func goDecryptTicket(h C.uintptr_t, ssl *C.SSL, ss *C.SSL_SESSION, keyName *C.uchar, n C.int, status C.int) (d C.int) {
	defer func() {
		if r := recover(); r != nil {
			d = C.int(TicketIgnoreRenew)
		}
	}()
	st := stateOf(h)
	if st == nil || n < 0 {
		return C.int(TicketIgnoreRenew)
	}
	return C.int(st.onDecryptTicket(ss, C.GoBytes(unsafe.Pointer(keyName), n), TicketStatus(status)))
}

//export goUsePSKSession
func goUsePSKSession(h C.uintptr_t, ssl *C.SSL, digest *C.char, id **C.uchar, idlen *C.size_t, sess **C.SSL_SESSION) (ok C.int) {
	defer func() {
		if r := recover(); r != nil {
			ok = 1
		}
	}()
	st := stateOf(h)
	if st == nil {
		return 1
	}
	d := ""
	if digest != nil {
		d = C.GoString(digest)
	}
	return b2i(st.onUsePSK(ssl, d, id, idlen, sess))
}

//export goFindPSKSession
func goFindPSKSession(h C.uintptr_t, ssl *C.SSL, identity *C.uchar, n C.int, sess **C.SSL_SESSION) (ok C.int) {
	defer func() {
		if r := recover(); r != nil {
			ok = 1
		}
	}()
	st := stateOf(h)
	if st == nil || n < 0 {
		return 1
	}
	return b2i(st.onFindPSK(C.GoBytes(unsafe.Pointer(identity), n), sess))
}

//export goNoopCallback
func goNoopCallback(h C.uintptr_t) {}

//export goAllowEarlyData
func goAllowEarlyData(h C.uintptr_t, ssl *C.SSL) (check C.int) {
	defer func() {
		if r := recover(); r != nil {
			check = C.int(EarlyDataCheckFailed)
		}
	}()
	st := stateOf(h)
	if st == nil {
		return 0
	}
	return C.int(st.onAllowEarlyData(ssl))
}
