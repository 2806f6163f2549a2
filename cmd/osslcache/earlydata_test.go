package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeEarlyDataFleet: two `serve -early-data` processes sharing
// Redis, and openssl s_client offering one saved session with early data
// (-sess_in FILE -early_data FILE) to each in turn. The first use of the
// session's early data is accepted and relayed upstream; the same session
// offered again, on the other process or the same one, has its early data
// rejected (never relayed), while the handshake completes and the data
// sent after it goes through:
//   - stateless tickets (a shared -ticket-key-file): the ticket resumes
//     everywhere, and the early-data mark set in Redis on its first use
//     rejects the replay (replay_rejected);
//   - stateful tickets (-no-ticket, a single-use store): the session is
//     consumed by its first use, so the replay makes a full handshake,
//     which carries no early data (rejected).
func TestServeEarlyDataFleet(t *testing.T) {
	bin, f, redis, upstream := newFleet(t)
	const early, line = "early-from-s_client", "hello-from-s_client"
	earlyFile := filepath.Join(t.TempDir(), "early.txt")
	require.NoError(t, os.WriteFile(earlyFile, []byte(early+"\n"), 0o600))
	tests := []struct {
		name, query   string
		flags         []string
		replayResumes bool
		replayResult  string
	}{
		{"stateless tickets", "", []string{"-ticket-key-file", f.ticketKeys}, true, "replay_rejected"},
		{"stateful tickets", "&single_use=1", []string{"-no-ticket"}, false, "rejected"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "early-" + string(rune('a'+i))
			args := append([]string{"-upstream", upstream, "-cert", f.certFile, "-key", f.key, "-sid-ctx", "early",
				"-store", "redis://" + redis.Addr + "/?prefix=" + prefix + tt.query, "-redis-key-file", f.redisKeys, "-lookup-timeout", "5s",
				"-min-version", "1.3", "-early-data", "16384", "-metrics", "127.0.0.1:0", "-log-level", "debug"}, tt.flags...)
			p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
			sess := sessionFile(t, "session")
			out := sClient(t, p1.addr, f.certFile, "-tls1_3", "-sess_out", sess)
			require.Contains(t, out, "New, ")
			require.Contains(t, out, "Max Early Data: 16384", "the ticket allows early data")

			out = sClient(t, p1.addr, f.certFile, "-tls1_3", "-sess_in", sess, "-early_data", earlyFile)
			assert.Contains(t, out, "Reused, ")
			assert.Contains(t, out, "Early data was accepted")
			assert.Equal(t, 1, strings.Count(out, early+"\n"), "the early data went upstream and back once:\n%s", out)

			for _, p := range []*serveProc{p2, p1} {
				out = sClient(t, p.addr, f.certFile, "-tls1_3", "-sess_in", sess, "-early_data", earlyFile)
				assert.Contains(t, out, "Early data was rejected", "a replay")
				assert.Zero(t, strings.Count(out, early+"\n"), "the replayed early data never reached the upstream:\n%s", out)
				assert.Contains(t, out, line+"\n", "the handshake completed and the data after it went through")
				if tt.replayResumes {
					assert.Contains(t, out, "Reused, ")
				} else {
					assert.Contains(t, out, "New, ")
				}
			}

			m1, m2 := p1.metricsNow(), p2.metricsNow()
			sum := func(name string) float64 { return m1[name] + m2[name] }
			assert.Equal(t, 1.0, sum(`osslcache_proxy_early_data_total{result="accepted"}`))
			assert.Equal(t, 2.0, sum(`osslcache_proxy_early_data_total{result="`+tt.replayResult+`"}`))
			assert.Equal(t, float64(len(early)+1), sum("osslcache_proxy_early_data_bytes_total"))
			assert.Equal(t, 1.0, sum("osslcache_redis_early_data_allowed_total"))
			if tt.replayResumes {
				assert.Equal(t, 2.0, sum("osslcache_redis_early_data_replays_total"), "Redis recognized both replays")
			} else {
				assert.Equal(t, 1.0, sum("osslcache_redis_hits_total"), "the session resumed once")
			}
			assert.Zero(t, sum("osslcache_proxy_handshake_errors_total"))
			assert.Equal(t, 1, p1.countLog("connection", "early_data", "accepted")+p2.countLog("connection", "early_data", "accepted"))
		})
	}
}
