package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
)

// TLS 1.3 early data (Config.EarlyData). libssl's own anti-replay keeps
// each ticket single use in its internal cache, one process's view; a
// fleet sharing Redis needs one view, so the proxy turns libssl's off
// (SSL_OP_NO_ANTI_REPLAY, which also keeps tickets as configured,
// stateless or not) and checks every ticket's first use of early data
// where its sessions live: in Redis (redisstore.Store.AllowEarlyData,
// fleet-wide) or, for the memory store and none, in this process
// (store.ReplayFilter).

// CheckEarlyData is the one rule for Config.EarlyData, which serve's
// -early-data applies too: early data is TLS 1.3's, so a server capped at
// TLS 1.2 (maxVersion; 0 is no cap) cannot take any.
func CheckEarlyData(n uint32, maxVersion ossl.Version) error {
	if n > 0 && maxVersion != 0 && maxVersion < ossl.VersionTLS13 {
		return fmt.Errorf("early data is TLS 1.3's: accepting %d bytes needs a maximum version of 1.3, not %v", n, maxVersion)
	}
	return nil
}

// setupEarlyData makes the context accept early data under the check;
// it runs once the metrics exist.
func (s *Server) setupEarlyData() error {
	if s.cfg.EarlyData == 0 {
		return nil
	}
	n := s.cfg.EarlyData
	if err := s.ctx.SetMaxEarlyData(n); err != nil {
		return err
	}
	if err := s.ctx.SetRecvMaxEarlyData(n); err != nil {
		return err
	}
	if _, err := s.ctx.SetOptions(ossl.OptionNoAntiReplay); err != nil {
		return err
	}
	allow := store.NewReplayFilter(store.ReplayFilterOptions{Capacity: s.cfg.Store.MemoryCapacity}).AllowEarlyData
	if s.store.redis != nil {
		allow = s.store.redis.AllowEarlyData
	}
	return s.ctx.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{
		Allow:   allow,
		Timeout: s.cfg.LookupTimeout,
		OnEvent: func(ev ossl.Event) {
			s.log.Warn("early data check failed: early data rejected", "kind", ev.Kind.String(), "err", ev.Err)
		},
	})
}

// upstreamError is a failure to reach or write to the upstream.
type upstreamError struct{ err error }

func (e *upstreamError) Error() string { return "upstream: " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

func (s *Server) dialUpstream() (net.Conn, error) {
	return s.upstreams.DialContext(s.baseCtx, "tcp", s.cfg.Upstream)
}

// relayEarlyData reads the client's early data before the handshake ends
// and sends it upstream as it arrives, dialing on its first byte, so the
// upstream gets the request half a round trip before the handshake
// completes. libssl makes early data readable only once it has accepted
// it, after the anti-replay check: rejected early data never reaches the
// upstream. It returns the upstream connection (nil when no early data
// came, or early data is off) and the bytes relayed; an error is the
// handshake's, or an *upstreamError.
func (s *Server) relayEarlyData(pc *proxyConn, tc *ossl.Conn) (net.Conn, int64, error) {
	if s.cfg.EarlyData == 0 {
		return nil, 0, nil
	}
	buf := make([]byte, min(int(s.cfg.EarlyData), 16<<10))
	var up net.Conn
	var relayed int64
	for {
		n, err := tc.ReadEarlyData(buf)
		if n > 0 {
			if up == nil {
				var derr error
				if up, derr = s.dialUpstream(); derr != nil {
					return nil, relayed, &upstreamError{derr}
				}
				pc.set(nil, up)
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return up, relayed, &upstreamError{werr}
			}
			relayed += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return up, relayed, nil
		}
		if err != nil {
			return up, relayed, fmt.Errorf("reading early data: %w", err)
		}
	}
}

// earlyDataResult is a connection's early data outcome as metrics and logs
// name it: none, accepted, replay_rejected (the anti-replay check found
// the ticket used before) or rejected (anything else: the check failed,
// libssl's own checks, a server that took none).
func earlyDataResult(st ossl.ConnectionState) string {
	switch {
	case st.EarlyData == ossl.EarlyDataAccepted:
		return "accepted"
	case st.EarlyData == ossl.EarlyDataRejected && st.EarlyDataCheck == ossl.EarlyDataCheckRefused:
		return "replay_rejected"
	case st.EarlyData == ossl.EarlyDataRejected:
		return "rejected"
	}
	return "none"
}
