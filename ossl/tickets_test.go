package ossl_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// countingClientCache counts what the client's new-session callback hands
// it (ClientPuts says the same; this keeps the sessions for resumption).
func clientWithCache(t *testing.T, v variant) (*ossl.Ctx, *store.ClientLRU) {
	client := newClient(t, v)
	setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
	cache := store.NewClientLRU(store.ClientLRUOptions{})
	require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: cache}))
	return client, cache
}

// TestTicketCallbacks: Generate seals application data into the ticket;
// Decrypt sees it with the status and decides; panics are counted and
// fall back to a full handshake.
func TestTicketCallbacks(t *testing.T) {
	for _, v := range []variant{tls12Tickets, tls13} {
		for _, tt := range []struct {
			decision ossl.TicketDecision
			resumed  bool
			panics   bool
		}{
			{ossl.TicketUse, true, false},
			{ossl.TicketUseRenew, true, false},
			{ossl.TicketIgnore, false, false},
			{ossl.TicketIgnoreRenew, false, false},
			{ossl.TicketUse, false, true},
		} {
			t.Run(v.Name, func(t *testing.T) {
				server, client := newServer(t, v), newClient(t, v)
				var seen atomic.Pointer[ossl.Ticket]
				require.NoError(t, server.SetSessionTicketCallbacks(ossl.TicketCallbacks{
					Generate: func(name string) ([]byte, error) { return []byte("tenant=" + name), nil },
					Decrypt: func(tk ossl.Ticket) ossl.TicketDecision {
						if tk.Status == ossl.TicketEmpty {
							return ossl.TicketIgnoreRenew
						}
						seen.Store(&tk)
						if tt.panics {
							panic("decrypt")
						}
						return tt.decision
					},
				}))
				full := handshake(t, client, server, ossltest.Options{ServerName: "localhost"})
				assert.Nil(t, full.ClientSession.TicketAppData(), "sealed in the ticket: the client cannot read it")
				res := handshake(t, client, server, ossltest.Options{ServerName: "localhost", Session: full.ClientSession})
				assert.Equal(t, tt.resumed, res.ServerReused)
				tk := seen.Load()
				require.NotNil(t, tk, "Decrypt saw the ticket")
				// libssl's own keys renew every TLS 1.3 ticket they open.
				assert.Contains(t, []ossl.TicketStatus{ossl.TicketSuccess, ossl.TicketSuccessRenew}, tk.Status)
				assert.Equal(t, []byte("tenant=localhost"), tk.AppData)
				require.NotNil(t, tk.Session)
				assert.True(t, tk.Session.IsResumable())
				tk.Session.Close()
				assert.Equal(t, int64(b2i(tt.panics)), server.CallbackStats().Panics)
			})
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTicketGenerateErrorFailsTheHandshake: a Generate that fails refuses
// the ticket, and libssl the handshake.
func TestTicketGenerateErrorFailsTheHandshake(t *testing.T) {
	server, client := newServer(t, tls13), newClient(t, tls13)
	require.NoError(t, server.SetSessionTicketCallbacks(ossl.TicketCallbacks{
		Generate: func(string) ([]byte, error) { return nil, errors.New("no") },
	}))
	_, err := ossltest.Handshake(client, server, ossltest.Options{})
	require.Error(t, err)
}

// TestPairDrivesPostHandshakeMessages: SSL.NewSessionTicket and
// post-handshake authentication, driven by writes, reads and steps of a
// live pair; a held write blocks, then goes.
func TestPairDrivesPostHandshakeMessages(t *testing.T) {
	server := newServer(t, tls13)
	client, _ := clientWithCache(t, tls13)
	p := newPair(t, client, server)
	_, err := p.Client.UseClientSessionCache("localhost:443")
	require.NoError(t, err)
	require.NoError(t, p.Client.SetPostHandshakeAuth(true))
	require.NoError(t, p.Server.SetNumTickets(1))
	_, err = p.Handshake()
	require.NoError(t, err)
	data, err := p.Read(ossltest.ClientSide, 1)
	require.NoError(t, err)
	assert.Nil(t, data)
	assert.Equal(t, int64(1), client.CallbackStats().ClientPuts, "one ticket")

	extra := int64(2) // tickets NewSessionTicket sends
	if ossl.ReleaseLine() == "1.1" {
		err := p.Server.NewSessionTicket()
		require.ErrorIs(t, err, errors.ErrUnsupported)
		assert.ErrorContains(t, err, "SSL_new_session_ticket needs OpenSSL 3.0 or later")
		extra = 0
	} else {
		require.NoError(t, p.Server.NewSessionTicket())
		require.NoError(t, p.Server.NewSessionTicket())
	}
	require.NoError(t, p.HoldWrites(ossltest.ServerSide, true))
	_, err = p.Write(ossltest.ServerSide, []byte("x"))
	require.ErrorIs(t, err, ossltest.ErrWouldBlock)
	require.NoError(t, p.HoldWrites(ossltest.ServerSide, false))
	n, err := p.Write(ossltest.ServerSide, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	data, err = p.Read(ossltest.ClientSide, 8)
	require.NoError(t, err)
	assert.Equal(t, []byte("x"), data)
	assert.Equal(t, 1+extra, client.CallbackStats().ClientPuts, "the tickets NewSessionTicket asked for came before the data")

	// Post-handshake authentication: a new ticket follows it.
	require.NoError(t, client.LoadCertificatePEM(testCert(t).CertPEM, testCert(t).KeyPEM))
	require.NoError(t, p.Server.SetVerify(ossl.VerifyPeer))
	require.NoError(t, p.Server.VerifyClientPostHandshake())
	st, err := p.Step(ossltest.ServerSide)
	require.NoError(t, err)
	assert.Equal(t, ossltest.Finished, st)
	_, err = p.Read(ossltest.ClientSide, 1)
	require.NoError(t, err)
	_, err = p.Read(ossltest.ServerSide, 1)
	require.NoError(t, err)
	_, err = p.Read(ossltest.ClientSide, 1)
	require.NoError(t, err)
	assert.Equal(t, 2+extra, client.CallbackStats().ClientPuts)
	require.NoError(t, p.Shutdown(ossltest.ServerSide))
}

// TestExternalPSK: a client offers a PSK made from a secret; the server
// finds it by identity; the handshake uses it and issues one ticket.
func TestExternalPSK(t *testing.T) {
	server := newServer(t, tls13)
	client, _ := clientWithCache(t, tls13)
	const aes256 = 0x1302 // TLS_AES_256_GCM_SHA384
	secret := make([]byte, 48)
	for i := range secret {
		secret[i] = byte(i)
	}
	var uses, finds atomic.Int64
	require.NoError(t, client.SetPSKUseSessionCallback(func(digest string) ([]byte, *ossl.Session, error) {
		uses.Add(1)
		s, err := client.NewPSKSession(secret, aes256)
		return []byte("psk-id"), s, err
	}))
	require.NoError(t, server.SetPSKFindSessionCallback(func(id []byte) (*ossl.Session, error) {
		finds.Add(1)
		if string(id) != "psk-id" {
			return nil, nil
		}
		return server.NewPSKSession(secret, aes256)
	}))
	r := handshake(t, client, server, ossltest.Options{CacheKey: "localhost:443"})
	assert.True(t, r.ServerReused, "a PSK handshake counts as a resumption")
	assert.Equal(t, int64(1), uses.Load())
	assert.Equal(t, int64(1), finds.Load())
	assert.Equal(t, int64(1), client.CallbackStats().ClientPuts, "one ticket after an external PSK")
	_, err := client.NewPSKSession(nil, aes256)
	assert.Error(t, err)
	_, err = client.NewPSKSession(secret, 0xffff)
	assert.Error(t, err, "no such suite")
}

// TestTicketSealingHeld: with sealing held, the key ring opens tickets but
// seals none; OpenSSL 1.1.1, which cannot send no ticket on TLS 1.3,
// refuses to hold on a context that may negotiate it.
func TestTicketSealingHeld(t *testing.T) {
	for _, v := range []variant{tls12Tickets, tls13} {
		t.Run(v.Name, func(t *testing.T) {
			server, client := newServer(t, v), newClient(t, v)
			assert.Error(t, server.HoldTicketSealing(true), "no keys installed")
			require.NoError(t, server.SetTicketKeys(ossl.TicketKey{1}))
			full := handshake(t, client, server, ossltest.Options{})
			assert.True(t, full.ClientSession.HasTicket())
			err := server.HoldTicketSealing(true)
			if v.Version == ossl.VersionTLS13 && ossl.ReleaseLine() == "1.1" {
				require.ErrorIs(t, err, errors.ErrUnsupported)
				require.ErrorContains(t, err, "HoldTicketSealing on a context that may negotiate TLS 1.3 needs OpenSSL 3.0 or later")
				t.Skip("1.1.1 sends an empty TLS 1.3 NewSessionTicket when the key callback declines")
			}
			require.NoError(t, err)
			res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
			assert.True(t, res.ServerReused, "the held ring still opens")
			fresh := handshake(t, client, server, ossltest.Options{})
			assert.False(t, fresh.ClientSession.HasTicket(), "but seals nothing")
			assert.False(t, fresh.ClientSession.IsResumable())
			if v.Version != ossl.VersionTLS12 {
				return
			}
			// Raised to TLS 1.3 while held: no ticket, or, on 1.1.1, a
			// failed handshake rather than a malformed ticket.
			for _, c := range []*ossl.Ctx{server, client} {
				require.NoError(t, c.SetMaxVersion(ossl.VersionTLS13))
			}
			r, err := ossltest.Handshake(client, server, ossltest.Options{})
			if ossl.ReleaseLine() == "1.1" {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			defer r.Close()
			assert.Equal(t, ossl.VersionTLS13, r.Version)
			assert.False(t, r.ClientSession.HasTicket())
		})
	}
}
