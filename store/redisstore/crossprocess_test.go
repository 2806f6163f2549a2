package redisstore_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// The environment of a helper server process (TestHelperServerProcess).
const (
	envHelperRole = "OSSLCACHE_HELPER_ROLE" // "make" or "resume"
	envHelperAddr = "OSSLCACHE_HELPER_REDIS"
	envHelperCert = "OSSLCACHE_HELPER_CERT" // certificate PEM file; the key is in CERT.key
	envHelperKeys = "OSSLCACHE_HELPER_KEYS" // keyring spec
	envHelperSID  = "OSSLCACHE_HELPER_SIDCTX"
	envHelperPfx  = "OSSLCACHE_HELPER_PREFIX"
	envHelperVer  = "OSSLCACHE_HELPER_TLS" // "1.2" or "1.3"
	envHelperOnce = "OSSLCACHE_HELPER_SINGLE_USE"
	envHelperSess = "OSSLCACHE_HELPER_SESSION" // the client session's DER file
)

const helperResultTag = "OSSLCACHE-HELPER-RESULT "

// helperResult is what a helper process reports on its stdout.
type helperResult struct {
	PID          int
	ServerReused bool
	ClientReused bool
	Version      string
	Callback     ossl.CallbackStats
	Store        redisstore.Stats
	Events       []string
}

// TestCrossProcessResumption runs separate server processes, each with its
// own SSL_CTX, sharing nothing but Redis (same session id context,
// certificate and key). The first makes a session with a full handshake;
// the next resume it through Redis. A server of another service (another
// session id context) on the same Redis cannot.
func TestCrossProcessResumption(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c := testCert(t)
	dir := t.TempDir()
	certFile := filepath.Join(dir, "server.pem")
	require.NoError(t, os.WriteFile(certFile, c.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(certFile+".key", c.KeyPEM, 0o600))
	keys := testKeyring(t, "fleet-1").Spec()

	tests := []struct {
		name      string
		tls       string
		singleUse bool
		// wantAgain: a third process resuming the same session succeeds.
		wantAgain bool
	}{
		{"tls12-session-ids", "1.2", false, true},
		{"tls12-session-ids/single-use", "1.2", true, false},
		{"tls13-stateful", "1.3", false, true},
		{"tls13-stateful/single-use", "1.3", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sessFile := filepath.Join(t.TempDir(), "client-session.der")
			env := map[string]string{
				envHelperAddr: srv.Addr, envHelperCert: certFile, envHelperKeys: keys,
				envHelperSID: "fleet", envHelperPfx: uniquePrefix(t), envHelperVer: tt.tls,
				envHelperOnce: strconv.FormatBool(tt.singleUse), envHelperSess: sessFile,
			}
			run := func(role string, override map[string]string) helperResult {
				t.Helper()
				e := map[string]string{envHelperRole: role}
				for k, v := range env {
					e[k] = v
				}
				for k, v := range override {
					e[k] = v
				}
				return runHelper(t, e)
			}

			made := run("make", nil)
			assert.NotEqual(t, os.Getpid(), made.PID)
			assert.False(t, made.ServerReused)
			assert.Equal(t, "TLSv"+tt.tls, made.Version)
			assert.Positive(t, made.Callback.Stored)
			assert.Equal(t, made.Callback.Stored, made.Store.Sealed)
			assert.Len(t, scanKeys(t, srv, env[envHelperPfx]+":*"), int(made.Store.Puts), "the sessions are in Redis")

			resumed := run("resume", nil)
			assert.NotEqual(t, made.PID, resumed.PID, "another process")
			assert.True(t, resumed.ServerReused, "resumed on another process through Redis: %+v", resumed)
			assert.True(t, resumed.ClientReused)
			assert.Equal(t, int64(1), resumed.Callback.GetHits)
			assert.Equal(t, int64(1), resumed.Store.Opened)
			assert.Empty(t, resumed.Events)

			again := run("resume", nil)
			assert.Equal(t, tt.wantAgain, again.ServerReused, "%+v", again)

			// Another service sharing the Redis and the key: its lookup
			// misses (the key names differ), a full handshake follows.
			other := run("resume", map[string]string{envHelperSID: "another-service"})
			assert.False(t, other.ServerReused)
			assert.Equal(t, int64(1), other.Callback.GetMisses)
			assert.Zero(t, other.Store.OpenFailures)
		})
	}
}

// runHelper runs the test binary again as a helper server process.
func runHelper(t *testing.T, env map[string]string) helperResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServerProcess$", "-test.count=1", "-test.timeout=60s")
	// Under the race detector a process sleeps a second at exit
	// (atexit_sleep_ms); the helpers have nothing left to report by then.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "helper %s:\n%s\n%s", env[envHelperRole], out, stderr.String())
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), helperResultTag); ok {
			var r helperResult
			require.NoError(t, json.Unmarshal([]byte(line), &r))
			return r
		}
	}
	t.Fatalf("helper %s printed no result:\n%s\n%s", env[envHelperRole], out, stderr.String())
	return helperResult{}
}

// TestHelperServerProcess is not a test: it is the body of the helper
// processes of TestCrossProcessResumption, and returns at once otherwise.
func TestHelperServerProcess(t *testing.T) {
	role := os.Getenv(envHelperRole)
	if role == "" {
		return
	}
	certPEM, err := os.ReadFile(os.Getenv(envHelperCert))
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(os.Getenv(envHelperCert) + ".key")
	require.NoError(t, err)
	c := &ossltest.Certificate{CertPEM: certPEM, KeyPEM: keyPEM}
	v := ossltest.TLS12
	if os.Getenv(envHelperVer) == "1.3" {
		v = ossltest.TLS13Stateful
	}
	keys, err := redisstore.ParseKeyring(os.Getenv(envHelperKeys))
	require.NoError(t, err)
	singleUse, _ := strconv.ParseBool(os.Getenv(envHelperOnce))

	// This process's own server context.
	so := v.ServerOptions()
	so.SessionIDContext = []byte(os.Getenv(envHelperSID))
	server, err := ossltest.NewServerCtx(c, so)
	require.NoError(t, err)
	defer server.Close()
	_, err = server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
	require.NoError(t, err)
	rs, err := redisstore.New(redisstore.Options{
		Addr: os.Getenv(envHelperAddr), Prefix: os.Getenv(envHelperPfx), Keys: keys,
		SingleUse: singleUse, LookupTimeout: 5 * time.Second, Logger: quietLogger(),
	})
	require.NoError(t, err)
	defer rs.Close()
	var evs []string
	require.NoError(t, server.SetSessionStore(rs.StoreConfig(func(e ossl.Event) { evs = append(evs, fmt.Sprintf("%s %s: %v", e.Kind, e.Op, e.Err)) })))
	client, err := ossltest.NewClientCtx(c, v.ClientOptions())
	require.NoError(t, err)
	defer client.Close()

	var offer *ossl.Session
	if role == "resume" {
		der, err := os.ReadFile(os.Getenv(envHelperSess))
		require.NoError(t, err)
		offer, err = ossl.UnmarshalSession(der)
		require.NoError(t, err)
		defer offer.Close()
	}
	res, err := ossltest.Handshake(client, server, ossltest.Options{Session: offer})
	require.NoError(t, err)
	defer res.Close()
	if role == "make" {
		der, err := res.ClientSession.Marshal()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(os.Getenv(envHelperSess), der, 0o600))
	}
	out, err := json.Marshal(helperResult{
		PID: os.Getpid(), ServerReused: res.ServerReused, ClientReused: res.ClientReused, Version: res.Version.String(),
		Callback: server.CallbackStats(), Store: rs.Stats(), Events: evs,
	})
	require.NoError(t, err)
	fmt.Printf("%s%s\n", helperResultTag, out)
}
