// Package attach finds and checks the SSL_CTX* that a cgo OpenSSL binding
// keeps in an unexported field of its context type, for the adapters of
// github.com/spacemonkeygo/openssl and github.com/libp2p/go-openssl (each a
// module of its own under adapters/, so that the main module builds on any
// libssl).
package attach

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/osslcache/osslcache/ossl"
)

// CTypeName is the Go name cgo gives C's struct ssl_ctx_st, the type of the
// field the bindings declare as *C.SSL_CTX.
const CTypeName = "_Ctype_struct_ssl_ctx_st"

// ErrNotFound wraps every failure to find or confirm the pointer.
var ErrNotFound = errors.New("the library's SSL_CTX was not found")

// FieldPointer returns the value of the field named field of the struct lib
// points to, after checking that its type is a pointer to CTypeName. It reads
// an unexported field with reflect; it never writes.
func FieldPointer(lib any, field string) (unsafe.Pointer, error) {
	v := reflect.ValueOf(lib)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, fmt.Errorf("%w: want a non-nil pointer to the library's context, got %T", ErrNotFound, lib)
	}
	s := v.Elem()
	if s.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %T does not point to a struct", ErrNotFound, lib)
	}
	f, ok := s.Type().FieldByName(field)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no field %q (has the library changed?)", ErrNotFound, s.Type(), field)
	}
	if f.Type.Kind() != reflect.Pointer || f.Type.Elem().Name() != CTypeName {
		return nil, fmt.Errorf("%w: %s.%s is a %s, not a pointer to %s (has the library changed?)", ErrNotFound, s.Type(), field, f.Type, CTypeName)
	}
	p := s.FieldByIndex(f.Index).UnsafePointer()
	if p == nil {
		return nil, fmt.Errorf("%w: %s.%s is nil (a context not made by the library's constructor?)", ErrNotFound, s.Type(), field)
	}
	return p, nil
}

// Library is what Verify needs of a library's context: its own setter and
// getter of the internal cache size (SSL_CTX_sess_set_cache_size and
// SSL_CTX_sess_get_cache_size, through the library's cgo).
type Library struct {
	SetCacheSize func(int) int
	CacheSize    func() int
}

// Verify proves that c and lib are the same SSL_CTX: a random cache size set
// through the library reads back through c, and one set through c reads
// back through the library. The previous size is restored. A mismatch is
// an error; nothing then is left changed but that size, restored too.
func Verify(c *ossl.Ctx, lib Library) error {
	a, b := randomSize(), randomSize()
	for b == a {
		b = randomSize()
	}
	prev := lib.SetCacheSize(a)
	defer lib.SetCacheSize(prev)
	if got := c.SessionCacheSize(); got != a {
		return fmt.Errorf("%w: the library set cache size %d; its pointer reads %d: not the same SSL_CTX", ErrNotFound, a, got)
	}
	if _, err := c.SetSessionCacheSize(b); err != nil {
		return err
	}
	if got := lib.CacheSize(); got != b {
		return fmt.Errorf("%w: cache size %d set through the pointer; the library reads %d: not the same SSL_CTX", ErrNotFound, b, got)
	}
	return nil
}

// randomSize is a cache size no context has by chance (libssl's default
// is 20480).
func randomSize() int {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return 1<<20 + int(binary.LittleEndian.Uint32(b[:])%(1<<24))
}

// Attach is an adapter's Attach: the pointer in the field named field of
// the library's context libCtx (FieldPointer), wrapped, verified against
// lib and tied to libCtx (Wrap).
func Attach[T any](libCtx *T, field string, lib Library) (*ossl.Ctx, error) {
	p, err := FieldPointer(libCtx, field)
	if err != nil {
		return nil, err
	}
	return Wrap(libCtx, p, lib)
}

// Wrap wraps p with ossl.WrapCtx, verifies it against lib, and ties the
// library's context to the result: lib stays reachable (so that its
// finalizer does not free the SSL_CTX) as long as the *ossl.Ctx is.
func Wrap[T any](libCtx *T, p unsafe.Pointer, lib Library) (*ossl.Ctx, error) {
	c, err := ossl.WrapCtx(p)
	if err != nil {
		return nil, err
	}
	if err := Verify(c, lib); err != nil {
		return nil, err
	}
	runtime.AddCleanup(c, func(l *T) { runtime.KeepAlive(l) }, libCtx)
	return c, nil
}
