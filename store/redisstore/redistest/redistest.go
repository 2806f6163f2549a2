// Package redistest runs real redis-server processes for tests, in the
// spirit of net/http/httptest: each Server is a redis-server of its own on a
// loopback port, without persistence, killed when the test ends. Tests can
// kill it (SIGKILL) and restart it on the same port, to play an outage.
//
// The binary is $OSSLCACHE_REDIS_SERVER, or redis-server from PATH. When
// there is none, Start skips the test, but only if $OSSLCACHE_REQUIRE_REDIS
// is unset (CI sets it, so a missing server fails there) and
// $OSSLCACHE_REDIS_SERVER is unset (a binary named but missing fails).
package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/osslcache/osslcache/internal/testutil"
)

// Environment variables read by Binary and Start.
const (
	EnvServer  = "OSSLCACHE_REDIS_SERVER"
	EnvRequire = "OSSLCACHE_REQUIRE_REDIS"
)

// Binary returns the redis-server to run: $OSSLCACHE_REDIS_SERVER, or
// redis-server from PATH.
func Binary() (string, error) {
	if p := os.Getenv(EnvServer); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("redistest: %s=%s: %w", EnvServer, p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redistest: no redis-server in PATH and %s unset (apt-get install redis-server, or scripts/redis-server.sh start)", EnvServer)
	}
	return p, nil
}

// Required reports whether a missing redis-server fails tests instead of
// skipping them: $OSSLCACHE_REQUIRE_REDIS is set (to anything), or
// $OSSLCACHE_REDIS_SERVER names a binary explicitly.
func Required() bool {
	_, req := os.LookupEnv(EnvRequire)
	return req || os.Getenv(EnvServer) != ""
}

// Options configures Start.
type Options struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Password, if set, is required of clients (--requirepass).
	Password string
	// TLSCertFile and TLSKeyFile, if set, make the server speak only TLS
	// on Port (--port 0 --tls-port Port); ClientTLS is what Client uses.
	TLSCertFile, TLSKeyFile string
	ClientTLS               *tls.Config
	// Args are more redis-server arguments.
	Args []string
	// Config, if set, is written to a file given to redis-server as its
	// configuration file (a Sentinel's, say: Sentinel rewrites it).
	Config string

	// clusterNodeTimeout, when set, makes the server a Redis Cluster node
	// (StartCluster), its bus on a port of its own.
	clusterNodeTimeout time.Duration
}

// Server is one redis-server process.
type Server struct {
	// Addr is "127.0.0.1:Port".
	Addr string
	Port int

	t    testing.TB
	bin  string
	dir  string
	opts Options

	busPort int // a cluster node's bus port, kept across restarts

	mu      sync.Mutex
	proc    *os.Process
	exited  chan struct{}
	log     *testutil.SyncBuffer
	clients []*redis.Client
}

// Require returns the redis-server binary, or ends t: skipped when
// Required is false, failed otherwise.
func Require(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if Required() {
			t.Fatalf("%v (%s or %s is set: not skipping)", err, EnvRequire, EnvServer)
		}
		t.Skipf("%v; %s is unset, so the test is skipped", err, EnvRequire)
	}
	return bin
}

// Start runs a redis-server for t, stopped when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Require(t)
	s := &Server{t: t, bin: bin, dir: t.TempDir(), opts: o}
	t.Cleanup(s.stop)
	for attempt := 0; ; attempt++ {
		s.Port = o.Port
		if s.Port == 0 {
			s.Port = FreePort(t)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		err := s.start()
		if err == nil {
			return s
		}
		if o.Port != 0 || attempt == 4 {
			t.Fatalf("redistest: %v", err)
		}
		// Someone took a free port in between: try others.
		s.busPort = 0
	}
}

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) args() ([]string, error) {
	var a []string
	if s.opts.Config != "" {
		conf := filepath.Join(s.dir, "redis.conf")
		if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(conf, []byte(s.opts.Config), 0o600); err != nil {
				return nil, err
			}
		}
		a = append(a, conf)
	}
	a = append(a,
		"--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", "",
	)
	port := strconv.Itoa(s.Port)
	if s.opts.TLSCertFile != "" {
		a = append(a, "--port", "0", "--tls-port", port,
			"--tls-cert-file", s.opts.TLSCertFile, "--tls-key-file", s.opts.TLSKeyFile,
			"--tls-auth-clients", "no")
	} else {
		a = append(a, "--port", port)
	}
	if s.opts.Password != "" {
		a = append(a, "--requirepass", s.opts.Password)
	}
	if s.opts.clusterNodeTimeout > 0 {
		if s.busPort == 0 {
			bus, err := freePort()
			if err != nil {
				return nil, err
			}
			s.busPort = bus
		}
		a = append(a, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(s.opts.clusterNodeTimeout.Milliseconds(), 10),
			"--cluster-port", strconv.Itoa(s.busPort))
	}
	return append(a, s.opts.Args...), nil
}

// start spawns the process and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	args, err := s.args()
	if err != nil {
		return err
	}
	log := &testutil.SyncBuffer{}
	type startResult struct {
		p   *os.Process
		err error
	}
	started := make(chan startResult, 1)
	exited := make(chan struct{})
	go func() {
		// Pdeathsig fires when the thread that forked exits: keep this
		// one, locked, until the server does, so that a test binary that
		// dies takes its redis-servers with it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(exited)
		cmd := exec.Command(s.bin, args...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- startResult{err: err}
			return
		}
		started <- startResult{p: cmd.Process}
		_ = cmd.Wait()
	}()
	r := <-started
	if r.err != nil {
		return r.err
	}
	s.proc = r.p
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			s.exited, s.log = exited, log
			return nil
		}
		select {
		case <-exited:
			s.proc = nil
			return fmt.Errorf("redis-server on %s exited at start:\n%s", s.Addr, log.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.killLocked(exited)
			return fmt.Errorf("redis-server on %s not listening after 10s:\n%s", s.Addr, log.String())
		}
	}
}

// Kill stops the server with SIGKILL, as a crash would, and waits for it to
// be gone. Connections to it break; nothing it held survives.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: Kill of a stopped server")
	}
	s.killLocked(s.exited)
}

func (s *Server) killLocked(exited chan struct{}) {
	if s.proc != nil {
		_ = s.proc.Kill()
	}
	if exited != nil {
		<-exited
	}
	s.proc = nil
}

// Restart starts a killed server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for i := 0; i < 20; i++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// Log returns what the current (or last) process wrote.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// Client returns an administrative client of the server (closed when the
// test ends, or by the caller), with retries off and the server's password
// and TLS settings.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                     s.Addr,
		Password:                 s.opts.Password,
		TLSConfig:                s.opts.ClientTLS,
		MaxRetries:               -1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	return c
}

// Do runs one command on a short-lived connection and returns its reply.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{
		Addr: s.Addr, Password: s.opts.Password, TLSConfig: s.opts.ClientTLS,
		MaxRetries: -1, DisableIdentity: true, PoolSize: 1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

func (s *Server) stop() {
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	s.killLocked(s.exited)
	failed := s.t.Failed()
	log := s.log
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	if failed && log != nil {
		s.t.Logf("redis-server %s log:\n%s", s.Addr, tail(log.String(), 4096))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
