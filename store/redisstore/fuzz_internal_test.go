package redisstore

import (
	"bytes"
	"errors"
	"testing"

	"github.com/osslcache/osslcache/ossl"
)

func fuzzSealer(t testing.TB, readPlaintext bool) *sealer {
	k := Keyring{Current: "k2", Keys: map[string][]byte{"k1": bytes.Repeat([]byte{1}, KeySize), "k2": bytes.Repeat([]byte{2}, KeySize)}}
	s, err := newSealer(k, readPlaintext)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzOpenSealedBlob: any bytes read from Redis either fail to open with
// ErrOpen or open to bytes that were sealed under that very name; what
// opens is then decoded as a session without crashing. Sealing round-trips
// and binds the blob to its name.
func FuzzOpenSealedBlob(f *testing.F) {
	s := fuzzSealer(f, false)
	for _, name := range []string{"osslcache:74657374:0102", ""} {
		b, err := s.seal(name, []byte{0x30, 0x03, 0x02, 0x01, 0x01})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, name)
	}
	f.Add([]byte{blobPlaintext, 0x30, 0x00}, "n")
	f.Add([]byte{blobSealedGCM, 2, 'k', '1'}, "n")
	f.Fuzz(func(t *testing.T, blob []byte, name string) {
		for _, sl := range []*sealer{s, fuzzSealer(t, true)} {
			der, _, err := sl.open(name, blob)
			if err != nil {
				if !errors.Is(err, ErrOpen) {
					t.Fatalf("open error not ErrOpen: %v", err)
				}
			} else if sess, err := ossl.UnmarshalSession(der); err == nil {
				sess.Close()
			}
		}
		sealed, err := s.seal(name, blob)
		if err != nil {
			t.Fatal(err)
		}
		der, wasSealed, err := s.open(name, sealed)
		if err != nil || !wasSealed || !bytes.Equal(der, blob) {
			t.Fatalf("seal/open round trip: %v", err)
		}
		if _, _, err := s.open(name+"x", sealed); !errors.Is(err, ErrOpen) {
			t.Fatal("a blob opened under another name")
		}
	})
}
