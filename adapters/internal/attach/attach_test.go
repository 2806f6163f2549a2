package attach_test

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/adapters/internal/attach"
	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
)

// _Ctype_struct_ssl_ctx_st stands in for the type cgo gives the libraries'
// field.
type _Ctype_struct_ssl_ctx_st struct{}

// fakeLib has the shape of the libraries' context types.
type fakeLib struct {
	ctx  *_Ctype_struct_ssl_ctx_st
	name string
}

type wrongType struct{ ctx *int }

type noField struct{ context unsafe.Pointer }

func newCtx(t *testing.T) *ossl.Ctx {
	c, err := ossl.NewCtx(ossl.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFieldPointer(t *testing.T) {
	c := newCtx(t)
	good := &fakeLib{ctx: (*_Ctype_struct_ssl_ctx_st)(osslhooks.CtxPointer(c))}
	p, err := attach.FieldPointer(good, "ctx")
	require.NoError(t, err)
	assert.Equal(t, osslhooks.CtxPointer(c), p)

	one := 1
	tests := []struct {
		name string
		lib  any
		want string
	}{
		{"nil", nil, "want a non-nil pointer"},
		{"nil pointer", (*fakeLib)(nil), "want a non-nil pointer"},
		{"not a pointer", fakeLib{}, "want a non-nil pointer"},
		{"pointer to a non-struct", &one, "does not point to a struct"},
		{"no such field", &noField{}, `has no field "ctx"`},
		{"field of another type", &wrongType{ctx: &one}, "not a pointer to _Ctype_struct_ssl_ctx_st"},
		{"nil field", &fakeLib{}, "is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attach.FieldPointer(tt.lib, "ctx")
			require.ErrorIs(t, err, attach.ErrNotFound)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// libraryOf plays a library whose setter and getter work on c.
func libraryOf(c *ossl.Ctx) attach.Library {
	return attach.Library{
		SetCacheSize: func(n int) int {
			prev, err := c.SetSessionCacheSize(n)
			if err != nil {
				panic(err)
			}
			return prev
		},
		CacheSize: c.SessionCacheSize,
	}
}

func TestVerify(t *testing.T) {
	a, b := newCtx(t), newCtx(t)
	wa, err := ossl.WrapCtx(osslhooks.CtxPointer(a))
	require.NoError(t, err)
	require.NoError(t, attach.Verify(wa, libraryOf(a)), "the same SSL_CTX")
	assert.Equal(t, 20480, a.SessionCacheSize(), "the size is restored")

	// The pointer names another context than the library's: caught.
	err = attach.Verify(wa, libraryOf(b))
	require.ErrorIs(t, err, attach.ErrNotFound)
	assert.Contains(t, err.Error(), "not the same SSL_CTX")
	for _, c := range []*ossl.Ctx{a, b} {
		assert.Equal(t, 20480, c.SessionCacheSize(), "nothing left changed")
	}
}

func TestWrap(t *testing.T) {
	a, b := newCtx(t), newCtx(t)
	lib := &fakeLib{ctx: (*_Ctype_struct_ssl_ctx_st)(osslhooks.CtxPointer(a))}
	c, err := attach.Wrap(lib, osslhooks.CtxPointer(a), libraryOf(a))
	require.NoError(t, err)
	assert.Equal(t, osslhooks.CtxPointer(a), osslhooks.CtxPointer(c), "the wrapper serves the library's SSL_CTX")
	_, err = attach.Wrap(lib, osslhooks.CtxPointer(b), libraryOf(a))
	assert.ErrorIs(t, err, attach.ErrNotFound)
}
