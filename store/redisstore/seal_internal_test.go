package redisstore

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSealer(t *testing.T, current string, ids ...string) *sealer {
	k := Keyring{Current: current, Keys: map[string][]byte{}}
	for i, id := range ids {
		k.Keys[id] = bytes.Repeat([]byte{byte(i + 1)}, KeySize)
	}
	s, err := newSealer(k, false)
	require.NoError(t, err)
	return s
}

// TestSealFormat: version, length-prefixed key ID, 12-byte nonce, then the
// AES-256-GCM ciphertext and tag; a fresh nonce every time.
func TestSealFormat(t *testing.T) {
	s := testSealer(t, "key-a", "key-a")
	der := []byte("0\x82 a DER session, more or less")
	blob, err := s.seal("p:00:01", der)
	require.NoError(t, err)
	assert.Equal(t, byte(1), blob[0])
	assert.Equal(t, byte(len("key-a")), blob[1])
	assert.Equal(t, "key-a", string(blob[2:7]))
	assert.Len(t, blob, 2+5+12+len(der)+16)
	again, err := s.seal("p:00:01", der)
	require.NoError(t, err)
	assert.NotEqual(t, blob[7:19], again[7:19], "random nonce")

	got, sealed, err := s.open("p:00:01", blob)
	require.NoError(t, err)
	assert.True(t, sealed)
	assert.Equal(t, der, got)
}

// TestOpenRefusesEveryAlteration flips every bit of a blob, and opens it
// under every other name: nothing opens.
func TestOpenRefusesEveryAlteration(t *testing.T) {
	s := testSealer(t, "k", "k")
	blob, err := s.seal("prefix:737663:0102", []byte("session"))
	require.NoError(t, err)
	for i := range blob {
		for bit := range 8 {
			b := bytes.Clone(blob)
			b[i] ^= 1 << bit
			_, _, err := s.open("prefix:737663:0102", b)
			assert.ErrorIs(t, err, ErrOpen, "byte %d bit %d", i, bit)
		}
	}
	for _, name := range []string{"prefix:737663:0103", "prefix:737664:0102", "prefiy:737663:0102", "prefix:737663:010", ""} {
		_, _, err := s.open(name, blob)
		assert.ErrorIs(t, err, ErrOpen, name)
	}
	for n := range len(blob) {
		_, _, err := s.open("prefix:737663:0102", blob[:n])
		assert.ErrorIs(t, err, ErrOpen, "truncated to %d", n)
	}
}

func TestOpenPlaintext(t *testing.T) {
	tests := []struct {
		name    string
		read    bool
		blob    []byte
		want    []byte
		wantErr string
	}{
		{"allowed", true, []byte("\x00der"), []byte("der"), ""},
		{"refused", false, []byte("\x00der"), nil, "only accepts sealed"},
		{"empty", true, []byte{0}, nil, "empty plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newSealer(Keyring{Current: "k", Keys: map[string][]byte{"k": make([]byte, KeySize)}}, tt.read)
			require.NoError(t, err)
			got, sealed, err := s.open("n", tt.blob)
			assert.False(t, sealed)
			if tt.wantErr != "" {
				assert.ErrorIs(t, err, ErrOpen)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestNoPlaintextWriting: a sealer without a current key is refused,
// whether it reads plaintext or not; reading plaintext never makes it write
// any.
func TestNoPlaintextWriting(t *testing.T) {
	for _, read := range []bool{false, true} {
		_, err := newSealer(Keyring{}, read)
		assert.ErrorContains(t, err, "always stored sealed")
		s, err := newSealer(Keyring{Current: "k", Keys: map[string][]byte{"k": make([]byte, KeySize)}}, read)
		require.NoError(t, err)
		blob, err := s.seal("n", []byte("der"))
		require.NoError(t, err)
		assert.Equal(t, blobSealedGCM, blob[0])
	}
}

// BenchmarkSealOpen: the cost sealing adds to a Put and a Get, for a
// session-sized DER.
func BenchmarkSealOpen(b *testing.B) {
	k := Keyring{Current: "k", Keys: map[string][]byte{"k": make([]byte, KeySize)}}
	s, err := newSealer(k, false)
	require.NoError(b, err)
	der := make([]byte, 200)
	b.SetBytes(int64(len(der)))
	for b.Loop() {
		blob, err := s.seal("osslcache:737663:0102", der)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.open("osslcache:737663:0102", blob); err != nil {
			b.Fatal(err)
		}
	}
}
