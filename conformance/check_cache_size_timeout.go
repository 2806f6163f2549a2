package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/osslcache/osslcache/ossl"
)

// ---- cache-size-limit ----

const cacheSizeLimit = 3

type cacheSizeObs struct {
	size      int
	after     []int64 // sessions after each full handshake
	cacheFull int64
}

func checkCacheSizeLimit(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	_, err := s.SetSessionCacheSize(cacheSizeLimit)
	p.must(err, "SSL_CTX_sess_set_cache_size")
	c, _ := p.client(ossl.CacheServer)
	o := cacheSizeObs{size: cacheSizeLimit}
	for range 5 {
		p.hs(c, s, nil)
		o.after = append(o.after, p.sessions(s))
	}
	o.cacheFull = p.stats(s).CacheFull
	return decideCacheSize(o)
}

func decideCacheSize(o cacheSizeObs) verdict {
	var most, last int64
	parts := make([]string, len(o.after))
	for i, n := range o.after {
		parts[i] = strconv.FormatInt(n, 10)
		most = max(most, n)
		last = n
	}
	addedN := last + o.cacheFull
	text := fmt.Sprintf("cache size %d, %d full handshakes: sessions after each %s; cache_full %d (%s added)",
		o.size, len(o.after), strings.Join(parts, ", "), o.cacheFull, nof(addedN, "session"))
	if addedN == 0 {
		return notApplicable("%s: nothing is cached (a TLS 1.2 ticket or a stateless TLS 1.3 ticket leaves no server state)", text)
	}
	want := min(int64(o.size), addedN)
	switch {
	case most < want:
		text += fmt.Sprintf(": the cache never holds more than %d, %d fewer than its size", most, want-most)
	case most > int64(o.size):
		text += fmt.Sprintf(": the cache exceeds its size (%d)", most)
	}
	return decide(most == want && last == want, "%s", text)
}

// ---- default-timeout-300 ----

type timeoutObs struct {
	serverCtx, clientCtx         time.Duration
	serverSession, clientSession time.Duration
}

func checkDefaultTimeout(p *probe) verdict {
	s := p.server(ossl.CacheServer)
	c, _ := p.client(ossl.CacheServer)
	o := timeoutObs{serverCtx: s.Timeout(), clientCtx: c.Timeout()}
	r := p.hs(c, s, nil)
	o.serverSession, o.clientSession = r.ServerSession.Timeout(), r.ClientSession.Timeout()
	return decideDefaultTimeout(o)
}

func decideDefaultTimeout(o timeoutObs) verdict {
	const want = 300 * time.Second
	return decide(o.serverCtx == want && o.clientCtx == want && o.serverSession == want && o.clientSession == want,
		"SSL_CTX_get_timeout of fresh contexts: server %d s, client %d s; sessions of a full handshake: server %d s, client %d s",
		int(o.serverCtx.Seconds()), int(o.clientCtx.Seconds()), int(o.serverSession.Seconds()), int(o.clientSession.Seconds()))
}
