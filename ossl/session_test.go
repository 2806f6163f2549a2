package ossl_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

func TestSessionMarshalRoundTrip(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.Name, func(t *testing.T) {
			server, client := newServer(t, v), newClient(t, v)
			r := handshake(t, client, server, ossltest.Options{})
			sess := r.ClientSession
			der, err := sess.Marshal()
			require.NoError(t, err)
			back, err := ossl.UnmarshalSession(der)
			require.NoError(t, err)
			defer back.Close()
			assert.Equal(t, sess.ID(), back.ID())
			assert.Equal(t, sess.Time(), back.Time())
			assert.Equal(t, sess.Timeout(), back.Timeout())
			assert.Equal(t, v.Version, back.ProtocolVersion())
			assert.Equal(t, sess.IsResumable(), back.IsResumable())
			again, err := back.Marshal()
			require.NoError(t, err)
			assert.Equal(t, der, again)

			// The decoded copy resumes like the original.
			res := handshake(t, client, server, ossltest.Options{Session: back})
			assert.True(t, res.ClientReused)
		})
	}
}

func TestUnmarshalSessionRejectsBadInput(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	r := handshake(t, client, server, ossltest.Options{})
	der, err := r.ServerSession.Marshal()
	require.NoError(t, err)
	random := make([]byte, 200)
	_, _ = rand.Read(random)

	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty", nil, "empty input"},
		{"truncated", der[:len(der)/2], "d2i_SSL_SESSION failed"},
		{"one byte short", der[:len(der)-1], "d2i_SSL_SESSION failed"},
		{"trailing bytes", append(append([]byte{}, der...), 0, 0), "2 trailing bytes"},
		{"random", random, "d2i_SSL_SESSION failed"},
		{"ascii", []byte("not a session at all"), "d2i_SSL_SESSION failed"},
		{"oversized", bytes.Repeat([]byte{0x30}, ossl.MaxSessionDERSize+1), "over the 65536-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ossl.UnmarshalSession(tt.in)
			require.ErrorContains(t, err, tt.wantErr)
			assert.Nil(t, s)
		})
	}
	// Every prefix of a real session fails cleanly.
	for n := 1; n < len(der); n++ {
		s, err := ossl.UnmarshalSession(der[:n])
		require.Error(t, err, "prefix of %d bytes", n)
		require.Nil(t, s)
	}
}

func TestSessionFields(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	before := time.Now().Add(-time.Second)
	r := handshake(t, client, server, ossltest.Options{})
	s := r.ServerSession
	assert.Len(t, s.ID(), 32)
	assert.Equal(t, []byte("test"), s.IDContext())
	assert.WithinRange(t, s.Time(), before.Truncate(time.Second), time.Now().Add(time.Second))
	assert.Positive(t, s.Timeout())
	assert.Equal(t, s.Time().Add(s.Timeout()), s.Expires())

	past := time.Unix(1_000_000_000, 0)
	require.NoError(t, s.SetTime(past))
	assert.Equal(t, past, s.Time())
	require.NoError(t, s.SetTimeout(7*time.Second))
	assert.Equal(t, 7*time.Second, s.Timeout())
	// libssl's cache files the session it made by ID: that one is not
	// changed; a copy is.
	assert.ErrorIs(t, s.SetID([]byte("x")), ossl.ErrSharedSession)
	d, err := s.Dup()
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.SetID([]byte("fresh id")))
	assert.Equal(t, []byte("fresh id"), d.ID())
	assert.NotEqual(t, d.ID(), s.ID(), "Dup is a separate object")
	err = d.SetID(bytes.Repeat([]byte{1}, 33))
	assert.ErrorContains(t, err, "session ID is 33 bytes; the limit is 32")

	ref, err := s.Ref()
	require.NoError(t, err)
	assert.Equal(t, osslhooks.SessionPointer(s), osslhooks.SessionPointer(ref))
	ref.Close()
	ref.Close()
	assert.Nil(t, ref.ID())
	_, err = ref.Marshal()
	assert.ErrorIs(t, err, ossl.ErrClosed)
}
