package ossl_test

import (
	"bytes"
	"testing"

	"github.com/osslcache/osslcache/ossl"
)

// FuzzUnmarshalSession: any bytes either fail to decode with an error or
// give a session whose accessors work and whose encoding is stable.
func FuzzUnmarshalSession(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := ossl.UnmarshalSession(der)
		if err != nil {
			if s != nil {
				t.Fatal("a session and an error")
			}
			return
		}
		defer s.Close()
		_ = s.ID()
		_ = s.IDContext()
		_ = s.Time()
		_ = s.Expires()
		_ = s.ProtocolVersion()
		_ = s.IsResumable()
		enc, err := s.Marshal()
		if err != nil {
			return // libssl decoded it but cannot re-encode it: fine, no crash
		}
		again, err := ossl.UnmarshalSession(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		defer again.Close()
		enc2, err := again.Marshal()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %v", err)
		}
	})
}

// FuzzParseCacheMode: whatever parses prints back to the same mode.
func FuzzParseCacheMode(f *testing.F) {
	for _, s := range []string{"SERVER", "BOTH|NO_INTERNAL", "0x10000|CLIENT", "off", "ssl_sess_cache_no_auto_clear,3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, err := ossl.ParseCacheMode(in)
		if err != nil {
			return
		}
		back, err := ossl.ParseCacheMode(m.String())
		if err != nil || back != m {
			t.Fatalf("%q -> %v -> %q -> %v, %v", in, m, m.String(), back, err)
		}
	})
}
