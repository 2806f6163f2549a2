package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
)

// CacheMode is a session cache mode of SSL_CTX_set_session_cache_mode(3): a
// role (OFF, CLIENT, SERVER, BOTH) with modifier flags. The values are the
// linked headers' SSL_SESS_CACHE_* macros.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_cache_mode/.
type CacheMode int64

// The modes and modifiers of SSL_CTX_set_session_cache_mode(3).
const (
	CacheOff              CacheMode = C.SSL_SESS_CACHE_OFF
	CacheClient           CacheMode = C.SSL_SESS_CACHE_CLIENT
	CacheServer           CacheMode = C.SSL_SESS_CACHE_SERVER
	CacheBoth             CacheMode = C.SSL_SESS_CACHE_BOTH
	CacheNoAutoClear      CacheMode = C.SSL_SESS_CACHE_NO_AUTO_CLEAR
	CacheNoInternalLookup CacheMode = C.SSL_SESS_CACHE_NO_INTERNAL_LOOKUP
	CacheNoInternalStore  CacheMode = C.SSL_SESS_CACHE_NO_INTERNAL_STORE
	CacheNoInternal       CacheMode = C.SSL_SESS_CACHE_NO_INTERNAL
	// CacheUpdateTime is SSL_SESS_CACHE_UPDATE_TIME (OpenSSL 3.0 and later);
	// it is 0 when the linked headers lack it (see HasUpdateTime).
	CacheUpdateTime CacheMode = C.GO_SESS_CACHE_UPDATE_TIME
)

// HasUpdateTime reports whether the headers this package was built against
// define SSL_SESS_CACHE_UPDATE_TIME.
const HasUpdateTime = CacheUpdateTime != 0

// cacheModeNames lists the names String writes and ParseCacheMode reads, the
// combined names (BOTH, NO_INTERNAL) before their parts.
var cacheModeNames = func() []struct {
	name string
	mode CacheMode
} {
	n := []struct {
		name string
		mode CacheMode
	}{
		{"BOTH", CacheBoth},
		{"CLIENT", CacheClient},
		{"SERVER", CacheServer},
		{"NO_AUTO_CLEAR", CacheNoAutoClear},
		{"NO_INTERNAL", CacheNoInternal},
		{"NO_INTERNAL_LOOKUP", CacheNoInternalLookup},
		{"NO_INTERNAL_STORE", CacheNoInternalStore},
	}
	if HasUpdateTime {
		n = append(n, struct {
			name string
			mode CacheMode
		}{"UPDATE_TIME", CacheUpdateTime})
	}
	return n
}()

// String returns the mode as flag names joined by "|", e.g.
// "SERVER|NO_INTERNAL_STORE"; "OFF" for 0. Bits without a name are written
// in hex ("SERVER|0x10000"), so ParseCacheMode(m.String()) == m for every m.
func (m CacheMode) String() string {
	if m == CacheOff {
		return "OFF"
	}
	var parts []string
	rest := m
	for _, n := range cacheModeNames {
		if rest&n.mode == n.mode && n.mode != 0 {
			parts = append(parts, n.name)
			rest &^= n.mode
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// ParseCacheMode reads the form String writes: names separated by "|" (or
// ","), case-insensitive, with or without the SSL_SESS_CACHE_ prefix, and
// numbers in hex (0x...) or decimal. The empty string is an error.
func ParseCacheMode(s string) (CacheMode, error) {
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("ossl: empty cache mode")
	}
	var m CacheMode
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' }) {
		f = strings.TrimSpace(f)
		name := strings.TrimPrefix(strings.ToUpper(f), "SSL_SESS_CACHE_")
		if name == "OFF" {
			continue
		}
		if v, ok := lookupCacheModeName(name); ok {
			m |= v
			continue
		}
		v, err := strconv.ParseUint(f, 0, 63)
		if err != nil {
			return 0, fmt.Errorf("ossl: unknown cache mode flag %q (want OFF, CLIENT, SERVER, BOTH, NO_AUTO_CLEAR, NO_INTERNAL_LOOKUP, NO_INTERNAL_STORE, NO_INTERNAL%s or a number)", f, map[bool]string{true: ", UPDATE_TIME"}[HasUpdateTime])
		}
		m |= CacheMode(v)
	}
	return m, nil
}

func lookupCacheModeName(name string) (CacheMode, bool) {
	for _, n := range cacheModeNames {
		if n.name == name {
			return n.mode, true
		}
	}
	return 0, false
}

// Set implements flag.Value, so a CacheMode can be a command-line flag.
func (m *CacheMode) Set(s string) error {
	v, err := ParseCacheMode(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (m CacheMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseCacheMode.
func (m *CacheMode) UnmarshalText(b []byte) error { return m.Set(string(b)) }

// SetSessionCacheMode sets the context's cache mode with
// SSL_CTX_set_session_cache_mode(3) and returns the previous one.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_cache_mode/.
func (c *Ctx) SetSessionCacheMode(m CacheMode) (CacheMode, error) {
	var prev CacheMode
	if !c.get(func(p *C.SSL_CTX) { prev = CacheMode(C.go_ctx_set_session_cache_mode(p, C.long(m))) }) {
		return 0, ErrClosed
	}
	return prev, nil
}

// SessionCacheMode returns the context's current cache mode with
// SSL_CTX_get_session_cache_mode(3); OFF after Close.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_cache_mode/.
func (c *Ctx) SessionCacheMode() CacheMode {
	var m CacheMode
	c.get(func(p *C.SSL_CTX) { m = CacheMode(C.go_ctx_get_session_cache_mode(p)) })
	return m
}

// cMacro is one SSL_SESS_CACHE_* macro as the C compiler sees it.
type cMacro struct {
	Name  string
	Value int64
}

// cacheModeMacros returns the SSL_SESS_CACHE_* macros compiled by the C
// compiler, independently of cgo's constant evaluation, for tests.
func cacheModeMacros() []cMacro {
	var out []cMacro
	for i := 0; ; i++ {
		var name *C.char
		var v C.long
		if C.go_cache_mode_macro(C.int(i), &name, &v) == 0 {
			return out
		}
		out = append(out, cMacro{C.GoString(name), int64(v)})
	}
}
