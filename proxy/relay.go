package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// relayBufs are the buffers bytes from the upstream go to the client
// through: one TLS record's plaintext each (ossl.Conn.WriteTo has its own
// for the other way).
var relayBufs = sync.Pool{New: func() any {
	b := make([]byte, 16<<10)
	return &b
}}

// copyFromUpstream copies the upstream's bytes to the client until the
// upstream's EOF, as io.Copy would, but waits for them without a buffer
// (on a socket: waitReadable) and takes one only to move them, so that an
// idle connection holds none. It marks each move in a (which may be nil).
func copyFromUpstream(tc *ossl.Conn, up net.Conn, a *activity) (int64, error) {
	var rc syscall.RawConn
	if sc, ok := up.(syscall.Conn); ok {
		rc, _ = sc.SyscallConn()
	}
	var total int64
	for {
		if rc != nil {
			if err := waitReadable(rc); err != nil {
				return total, err
			}
		}
		bp := relayBufs.Get().(*[]byte)
		n, err := up.Read(*bp)
		if n > 0 {
			a.moved()
			var werr error
			n, werr = tc.Write((*bp)[:n])
			total += int64(n)
			if werr != nil {
				err = werr
			}
		}
		relayBufs.Put(bp)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// waitReadable waits until the socket has bytes to read, or has ended or
// failed, without reading them (MSG_PEEK), honouring its read deadline.
func waitReadable(rc syscall.RawConn) error {
	var peek [1]byte
	return rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if !errors.Is(err, syscall.EINTR) {
				return !errors.Is(err, syscall.EAGAIN)
			}
		}
	})
}

// activeWriter marks in a every write to w.
type activeWriter struct {
	w io.Writer
	a *activity
}

func (w activeWriter) Write(b []byte) (int, error) {
	w.a.moved()
	return w.w.Write(b)
}

// activity closes a connection that moved no byte either way for a while
// (Config.IdleTimeout): one timer per connection, which, when it fires,
// closes the connection if nothing moved since it was set, or sets itself
// again for the rest of the time from the last move. Moving bytes costs
// an atomic store of the time.
type activity struct {
	idle  time.Duration
	start time.Time
	last  atomic.Int64 // when bytes last moved, in nanoseconds from start
	close func()

	mu    sync.Mutex
	timer *time.Timer
	fired bool
}

func newActivity(idle time.Duration, close func()) *activity {
	a := &activity{idle: idle, start: time.Now(), close: close}
	a.mu.Lock()
	a.timer = time.AfterFunc(idle, a.check)
	a.mu.Unlock()
	return a
}

// moved records that bytes moved now; a nil a records nothing.
func (a *activity) moved() {
	if a != nil {
		a.last.Store(int64(time.Since(a.start)))
	}
}

// writer returns w, marking its writes in a (w itself when a is nil).
func (a *activity) writer(w io.Writer) io.Writer {
	if a == nil {
		return w
	}
	return activeWriter{w: w, a: a}
}

func (a *activity) check() {
	a.mu.Lock()
	if a.timer == nil {
		a.mu.Unlock()
		return // stopped
	}
	quiet := time.Since(a.start) - time.Duration(a.last.Load())
	if quiet < a.idle {
		a.timer.Reset(a.idle - quiet)
		a.mu.Unlock()
		return
	}
	a.fired = true
	a.timer = nil
	a.mu.Unlock()
	a.close()
}

// stop ends the watch.
func (a *activity) stop() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

// expired reports whether the connection was closed for being idle.
func (a *activity) expired() bool {
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fired
}
