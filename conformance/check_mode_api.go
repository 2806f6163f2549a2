package conformance

import (
	"fmt"
	"math/bits"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// unnamedBit is a mode bit no release defines, to see whether libssl keeps
// bits it does not know.
const unnamedBit ossl.CacheMode = 0x10000

// modeSequence is every combination of the named flags (OFF first), then
// an unnamed bit on SERVER, then SERVER again.
func modeSequence() []ossl.CacheMode {
	seq := ossltest.CacheModeCombinations()
	return append(seq, ossl.CacheServer|unnamedBit, ossl.CacheServer)
}

func namedFlagCount() int {
	all := ossltest.CacheModeCombinations()
	return bits.Len(uint(len(all))) - 1
}

// setGetObs is a run of successive sets on one fresh context.
type setGetObs struct {
	flags   int // named flags combined
	initial ossl.CacheMode
	steps   []setGetStep
}

type setGetStep struct {
	set, returned, got ossl.CacheMode
}

func observeSetGet(p *probe) setGetObs {
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer})
	p.must(err, "SSL_CTX_new")
	p.defer_(func() { ctx.Close() })
	o := setGetObs{flags: namedFlagCount()}
	o.initial = ctx.SessionCacheMode()
	for _, m := range modeSequence() {
		prev, err := ctx.SetSessionCacheMode(m)
		p.must(err, "SSL_CTX_set_session_cache_mode")
		got := ctx.SessionCacheMode()
		o.steps = append(o.steps, setGetStep{set: m, returned: prev, got: got})
	}
	return o
}

func checkSetReturnsPrevious(p *probe) verdict { return decideSetReturnsPrevious(observeSetGet(p)) }

func decideSetReturnsPrevious(o setGetObs) verdict {
	want := o.initial
	bad := 0
	first := ""
	for _, s := range o.steps {
		if s.returned != want {
			bad++
			if first == "" {
				first = fmt.Sprintf("; first: set %s returned %s, previous was %s", s.set, s.returned, want)
			}
		}
		want = s.set
	}
	return decide(bad == 0 && len(o.steps) > 0,
		"%d successive sets (all %d combinations of the %d named flags, then SERVER|0x10000, then SERVER): %d returned the mode set before%s; the first returned %s (%#x), the default",
		len(o.steps), len(o.steps)-2, o.flags, len(o.steps)-bad, first, o.initial, int64(o.initial))
}

func checkGetReturnsCurrent(p *probe) verdict { return decideGetReturnsCurrent(observeSetGet(p)) }

func decideGetReturnsCurrent(o setGetObs) verdict {
	bad := 0
	first := ""
	for _, s := range o.steps {
		if s.got != s.set {
			bad++
			if first == "" {
				first = fmt.Sprintf("; first: get after set %s returned %s", s.set, s.got)
			}
		}
	}
	unnamed := "kept"
	if len(o.steps) >= 2 && o.steps[len(o.steps)-2].got != o.steps[len(o.steps)-2].set {
		unnamed = "not kept"
	}
	return decide(bad == 0 && len(o.steps) > 0,
		"get after each of %d sets (all %d combinations of the %d named flags, then SERVER|0x10000, then SERVER): %d returned the mode just set%s; the unnamed bit 0x10000 is %s as is",
		len(o.steps), len(o.steps)-2, o.flags, len(o.steps)-bad, first, unnamed)
}

type defaultModeObs struct {
	server, client ossl.CacheMode
}

func checkDefaultIsServer(p *probe) verdict {
	var o defaultModeObs
	for _, r := range []ossl.Role{ossl.RoleServer, ossl.RoleClient} {
		ctx, err := ossl.NewCtx(ossl.Config{Role: r})
		p.must(err, "SSL_CTX_new")
		p.defer_(func() { ctx.Close() })
		m := ctx.SessionCacheMode()
		if r == ossl.RoleServer {
			o.server = m
		} else {
			o.client = m
		}
	}
	return decideDefaultIsServer(o)
}

func decideDefaultIsServer(o defaultModeObs) verdict {
	note := ""
	if o.client&ossl.CacheClient == 0 {
		note = " (no CLIENT bit: a client caches nothing until told)"
	}
	return decide(o.server == ossl.CacheServer && o.client == ossl.CacheServer,
		"fresh TLS_server_method context: %s (%#x); fresh TLS_client_method context: %s (%#x)%s",
		o.server, int64(o.server), o.client, int64(o.client), note)
}
