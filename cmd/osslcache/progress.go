package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

// progress shows a live status line on stderr: rewritten in place on a
// terminal, one line every few seconds otherwise (CI logs).
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	last  time.Time
	width int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		pad := p.width - len(msg)
		if pad < 0 {
			pad = 0
		}
		fmt.Fprintf(p.w, "\r%s%*s", msg, pad, "")
		p.width = len(msg)
		return
	}
	if time.Since(p.last) >= 2*time.Second {
		fmt.Fprintln(p.w, msg)
		p.last = time.Now()
	}
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
	}
}

func goVersion() string { return runtime.Version() }
