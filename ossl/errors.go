package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// ErrClosed is returned by methods called on a closed Ctx, Conn or Session.
var ErrClosed = errors.New("ossl: use of closed object")

// ErrorEntry is one entry of OpenSSL's per-thread error queue.
type ErrorEntry struct {
	Code   uint64 // packed error code, as ERR_get_error returns it
	Reason string // ERR_error_string_n text: library, function and reason
	File   string
	Line   int
	Func   string // empty on OpenSSL 1.1.1
	Data   string // extra data of the entry, if any
}

// Error is a failed libssl call: the operation and the entries drained from
// OpenSSL's error queue on the thread that made the call.
type Error struct {
	Op      string // the libssl function or operation that failed
	Detail  string // context added by this package, if any
	Entries []ErrorEntry
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ossl: ")
	b.WriteString(e.Op)
	b.WriteString(" failed")
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for _, en := range e.Entries {
		b.WriteString(": ")
		b.WriteString(en.Reason)
		if en.Data != "" {
			b.WriteString(" (")
			b.WriteString(en.Data)
			b.WriteString(")")
		}
	}
	if len(e.Entries) == 0 && e.Detail == "" {
		b.WriteString(" (OpenSSL's error queue is empty)")
	}
	if h := e.Hint(); h != "" {
		b.WriteString("; fix: ")
		b.WriteString(h)
	}
	return b.String()
}

// HasReason reports whether any entry's reason text contains s (for example
// "session id context uninitialized").
func (e *Error) HasReason(s string) bool {
	for _, en := range e.Entries {
		if strings.Contains(en.Reason, s) {
			return true
		}
	}
	return false
}

// hints name the fix for OpenSSL errors whose reason alone does not say it.
var hints = []struct{ reason, hint string }{
	{"session id context uninitialized", "a server that verifies peers (SSL_VERIFY_PEER) must set a session id context: call Ctx.SetSessionIDContext (SSL_CTX_set_session_id_context(3))"},
}

// Hint returns how to fix the error, when this package knows, or "".
func (e *Error) Hint() string {
	for _, h := range hints {
		if e.HasReason(h.reason) {
			return h.hint
		}
	}
	return ""
}

// drainErrors empties this OS thread's error queue into an *Error. The caller
// must be locked to the thread that made the failing call (see onThread).
func drainErrors(op, detail string) *Error {
	e := &Error{Op: op, Detail: detail}
	for {
		var file, fn, data *C.char
		var line, flags C.int
		code := C.go_err_next(&file, &line, &fn, &data, &flags)
		if code == 0 {
			return e
		}
		var buf [256]C.char
		C.ERR_error_string_n(code, &buf[0], C.size_t(len(buf)))
		en := ErrorEntry{Code: uint64(code), Reason: C.GoString(&buf[0]), Line: int(line)}
		if file != nil {
			en.File = C.GoString(file)
		}
		if fn != nil {
			en.Func = C.GoString(fn)
		}
		if data != nil && flags&C.ERR_TXT_STRING != 0 {
			en.Data = C.GoString(data)
		}
		e.Entries = append(e.Entries, en)
	}
}

// onThread runs call with the goroutine locked to its OS thread and an empty
// error queue; when call reports failure the queue is drained on that same
// thread into the returned error.
func onThread(op string, call func() bool) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.ERR_clear_error()
	if call() {
		return nil
	}
	return drainErrors(op, "")
}

func errorf(op, format string, args ...any) *Error {
	return &Error{Op: op, Detail: fmt.Sprintf(format, args...)}
}
