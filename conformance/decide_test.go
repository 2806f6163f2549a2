package conformance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/osslcache/osslcache/ossl"
)

// Synthetic attempts for the decision tests.
var (
	resumedInternal = attempt{client: true, server: true, d: ossl.Stats{Hits: 1}}
	resumedTicket   = attempt{client: true, server: true, d: ossl.Stats{Hits: 1}}
	resumedExternal = attempt{client: true, server: true, d: ossl.Stats{Hits: 1, Misses: 1, CallbackHits: 1}, calls: []string{"get(hit)"}}
	fullMiss        = attempt{d: ossl.Stats{Misses: 1}, fresh: true}
	fullNoCount     = attempt{fresh: true}
	failedSIDCtx    = attempt{failed: "handshake failed: session id context uninitialized"}
	serverOnly      = attempt{server: true}
)

func withCalls(a attempt, calls ...string) attempt { a.calls = calls; return a }

// withEarly adds early data to a synthetic attempt: sent, the status both
// sides report, and what the server read.
func withEarly(a attempt, st ossl.EarlyDataStatus, read []byte) attempt {
	a.earlySent, a.clientEarly, a.serverEarly, a.earlyRead = earlyPayload, st, st, read
	return a
}

// Synthetic early data offers.
var (
	earlyAccepted       = withEarly(resumedInternal, ossl.EarlyDataAccepted, earlyPayload)
	earlyFromStore      = withEarly(resumedExternal, ossl.EarlyDataAccepted, earlyPayload)
	earlyReplayRejected = withEarly(fullMiss, ossl.EarlyDataRejected, nil)
	earlyHitNotResumed  = withEarly(withCalls(fullMiss, "get(hit)", "remove"), ossl.EarlyDataRejected, nil)
	earlyResumedNoData  = withEarly(resumedInternal, ossl.EarlyDataRejected, nil)
	earlyShort          = withEarly(resumedInternal, ossl.EarlyDataAccepted, earlyPayload[:3])
	earlySidesDiffer    = func() attempt { a := earlyAccepted; a.clientEarly = ossl.EarlyDataRejected; return a }()
	earlyStatefulOnce   = earlyObs{maxEarly: earlyLimit, cached: 2, first: earlyAccepted, replay: earlyReplayRejected}
	earlyTLS12          = earlyObs{version: ossl.VersionTLS12}
)

// Synthetic observations of one context used on both sides, and of BOTH.
var (
	oneShared      = oneCtxRun{cached: 1, calls: 1, clientCalls: 1, sameID: true, resume: resumedInternal, survivor: "client"}
	bothSessionIDs = bothObs{value: 3, client: 1, server: 2, clientBoth: storeCount{1, 1}, clientClient: storeCount{1, 1}, serverBoth: storeCount{1, 1}, serverServer: storeCount{1, 1},
		resumeBoth: "resumed", resumeServer: "resumed", one: oneCtxRun{cached: 1, calls: 1, clientCalls: -1, sameID: true, resume: resumedInternal, survivor: "client"}}
	bothTickets = bothObs{value: 3, client: 1, server: 2, clientBoth: storeCount{1, 1}, clientClient: storeCount{1, 1},
		resumeBoth: "resumed", resumeServer: "resumed", one: oneCtxRun{cached: 1, clientCalls: -1, resume: resumedTicket}}
)

// Synthetic SSL_CTX_free observations.
var ctxFreed = ctxFreeObs{cached: 1, before: true, elsewhere: fullNoCount, controlAfter: true, controlElsewhere: resumedTicket,
	serverCached: 1, serverBefore: true, clientFree: removeAtFree{cached: 1, skipped: 1}, serverFree: removeAtFree{cached: 2, skipped: 2}}

// Synthetic SSL_free observations: a side that kept or lost its session.
func kept(n int64) sideFree        { return sideFree{before: n, after: n, resumable: true} }
func removedSide(n int64) sideFree { return sideFree{before: n, after: n - 1, removes: 1} }

var (
	uncleanIDs = uncleanObs{
		clean:         freeRun{end: endClean, server: kept(1), client: kept(1), again: resumedInternal},
		unclean:       freeRun{end: endUnclean, server: removedSide(1), client: removedSide(1), again: fullNoCount},
		serverUnclean: freeRun{end: endServerUnclean, server: removedSide(1), client: kept(1), again: fullMiss},
	}
	uncleanTLS12Ticket = uncleanObs{
		clean:         freeRun{end: endClean, client: kept(1), again: resumedTicket},
		unclean:       freeRun{end: endUnclean, client: removedSide(1), again: fullNoCount},
		serverUnclean: freeRun{end: endServerUnclean, client: kept(1), again: resumedTicket},
	}
	uncleanStateless = uncleanObs{
		clean:         freeRun{end: endClean, server: kept(2), client: kept(2), again: resumedTicket},
		unclean:       freeRun{end: endUnclean, server: removedSide(2), client: removedSide(2), again: fullNoCount},
		serverUnclean: freeRun{end: endServerUnclean, server: removedSide(2), client: kept(2), again: resumedTicket},
	}
)

// TestDecisions feeds each decision function observations that must hold,
// deviate or not apply: a check decides from what it saw, so each can fail.
func TestDecisions(t *testing.T) {
	steps := func(seq ...ossl.CacheMode) setGetObs {
		o := setGetObs{flags: 6, initial: ossl.CacheServer}
		prev := o.initial
		for _, m := range seq {
			o.steps = append(o.steps, setGetStep{set: m, returned: prev, got: m})
			prev = m
		}
		return o
	}
	badReturn := steps(ossl.CacheOff, ossl.CacheClient)
	badReturn.steps[1].returned = ossl.CacheServer
	badGet := steps(ossl.CacheOff, ossl.CacheClient)
	badGet.steps[1].got = ossl.CacheOff
	series := func(resume bool, server, client []int) flushSeries {
		return flushSeries{resume: resume, conns: 520, resumed: 519, server: server, client: client, serverLeft: true, cli: true}
	}
	aged := 1000 * time.Second
	stateful := updateTimeObs{has: true, cached: 1, internalHit: resumedInternal, externalHit: resumedExternal}
	internalStale := stateful
	internalStale.internalAge = aged
	externalStale := stateful
	externalStale.copyFlushed = true

	tests := []struct {
		name     string
		v        verdict
		want     string
		contains string
	}{
		{"set: every return is the previous mode", decideSetReturnsPrevious(steps(ossl.CacheOff, ossl.CacheBoth)), StatusHolds, "2 returned the mode set before"},
		{"set: one wrong return", decideSetReturnsPrevious(badReturn), StatusDeviates, "first: set CLIENT returned SERVER, previous was OFF"},
		{"set: nothing set", decideSetReturnsPrevious(setGetObs{}), StatusDeviates, "0 successive sets"},
		{"get: every get is the mode set", decideGetReturnsCurrent(steps(ossl.CacheOff, ossl.CacheBoth)), StatusHolds, "2 returned the mode just set"},
		{"get: one wrong get", decideGetReturnsCurrent(badGet), StatusDeviates, "get after set CLIENT returned OFF"},
		{"default: SERVER on both", decideDefaultIsServer(defaultModeObs{ossl.CacheServer, ossl.CacheServer}), StatusHolds, "SERVER (0x2)"},
		{"default: client differs", decideDefaultIsServer(defaultModeObs{ossl.CacheServer, ossl.CacheBoth}), StatusDeviates, "BOTH (0x3)"},

		{"per ctx: B cannot resume", decideCachePerCtx(cachePerCtxObs{aCached: 1, toB: fullMiss, backToA: resumedInternal}), StatusHolds, "A caches 1, B 0"},
		{"per ctx: B resumes", decideCachePerCtx(cachePerCtxObs{aCached: 1, toB: resumedInternal, backToA: resumedInternal}), StatusDeviates, "offered to B (same certificate and id context): resumed"},
		{"per ctx: control failed", decideCachePerCtx(cachePerCtxObs{aCached: 1, toB: fullMiss, backToA: fullMiss}), StatusDeviates, "A did not resume its own session"},
		{"per ctx: tickets", decideCachePerCtx(cachePerCtxObs{toB: fullNoCount, backToA: resumedTicket}), StatusHolds, "own ticket keys"},

		{"reuse-or-full: full with a new session", decideReuseOrFull(reuseOrFullObs{known: resumedInternal, foreign: fullMiss, removed: &fullMiss}), StatusHolds, "new session issued"},
		{"reuse-or-full: the unknown session failed", decideReuseOrFull(reuseOrFullObs{known: resumedInternal, foreign: failedSIDCtx}), StatusDeviates, "handshake failed"},
		{"reuse-or-full: no new session", decideReuseOrFull(reuseOrFullObs{known: resumedInternal, foreign: attempt{}}), StatusDeviates, "no new resumable session"},

		{"lookup order: internal, then external", decideLookupOrder(lookupOrderObs{internal: 1, stored: 1, both: resumedInternal, externalOnly: resumedExternal}), StatusHolds, "get callback: get(hit)"},
		{"lookup order: store asked first", decideLookupOrder(lookupOrderObs{internal: 1, stored: 1, both: withCalls(resumedExternal, "get(hit)"), externalOnly: resumedExternal}), StatusDeviates, ""},
		{"lookup order: store ignored", decideLookupOrder(lookupOrderObs{internal: 1, stored: 1, both: resumedInternal, externalOnly: withCalls(fullMiss, "get(hit)")}), StatusDeviates, "full handshake"},
		{"lookup order: tickets", decideLookupOrder(lookupOrderObs{both: resumedTicket, externalOnly: resumedTicket}), StatusNA, "stateless ticket"},

		{"sid ctx: isolated", decideSIDCtx(sidCtxObs{xToY: fullNoCount, newSIDCtx: "Y", noSID: noSIDObs{resume: failedSIDCtx}}), StatusHolds, `new session under "Y"`},
		{"sid ctx: resumed across contexts", decideSIDCtx(sidCtxObs{xToY: resumedInternal, noSID: noSIDObs{resume: fullNoCount}}), StatusDeviates, ""},
		{"sid ctx: verifying server resumed", decideSIDCtx(sidCtxObs{xToY: fullNoCount, noSID: noSIDObs{cached: 1, resume: resumedInternal}}), StatusDeviates, "resumption attempt: resumed"},
		{"verify peer: fatal error", decideVerifyPeerWithoutSIDCtx(noSIDObs{resume: failedSIDCtx}), StatusHolds, "session id context uninitialized"},
		{"verify peer: silent full handshake", decideVerifyPeerWithoutSIDCtx(noSIDObs{resume: fullNoCount}), StatusDeviates, "never stored the session"},
		{"verify peer: first handshake failed", decideVerifyPeerWithoutSIDCtx(noSIDObs{fullFailed: "handshake failed: x"}), StatusDeviates, "the full handshake failed"},

		{"OFF stores nothing", decideOffStore(storeCount{0, 0}, storeCount{1, 1}, "server", "SERVER"), StatusHolds, "OFF server: 0 cached"},
		{"OFF stores", decideOffStore(storeCount{1, 0}, storeCount{1, 1}, "server", "SERVER"), StatusDeviates, "OFF server: 1 cached"},
		{"OFF callback", decideOffStore(storeCount{0, 1}, storeCount{1, 1}, "client", "CLIENT"), StatusDeviates, "new-session callback 1 call"},
		{"OFF: nothing to store anyway", decideOffStore(storeCount{0, 0}, storeCount{0, 0}, "server", "SERVER"), StatusNA, "nothing to store"},
		{"OFF: no resumption", decideOffNoResumption(offResumeObs{resumable: true, resume: withCalls(fullMiss, "get(miss)")}), StatusHolds, "the lookup still ran under OFF"},
		{"OFF: ticket resumes", decideOffNoResumption(offResumeObs{resumable: true, resume: resumedTicket}), StatusDeviates, "OFF does not stop tickets"},

		{"client stores", decideClientStores(clientStoresObs{storeCount{2, 2}, true}), StatusHolds, "one per TLS 1.3 ticket"},
		{"client stores nothing", decideClientStores(clientStoresObs{storeCount{0, 1}, false}), StatusDeviates, "0 cached"},
		{"client: no automatic reuse", decideClientNoAutoReuse(noAutoReuseObs{cached: 1, next: fullNoCount}), StatusHolds, "1 cached session"},
		{"client: automatic reuse", decideClientNoAutoReuse(noAutoReuseObs{cached: 1, next: resumedInternal}), StatusDeviates, "resumed"},
		{"client: empty cache shows nothing", decideClientNoAutoReuse(noAutoReuseObs{next: fullNoCount}), StatusDeviates, "nothing is shown"},
		{"client: SSL_set_session resumes", decideClientSetSessionReuses(resumedInternal), StatusHolds, "client reused true, server reused true"},
		{"client: one side only", decideClientSetSessionReuses(serverOnly), StatusDeviates, "resumed on the server only"},
		{"client: not default", decideClientNotDefault(clientDefaultObs{ossl.CacheServer, storeCount{}}), StatusHolds, "mode SERVER"},
		{"client: default stores", decideClientNotDefault(clientDefaultObs{ossl.CacheBoth, storeCount{1, 1}}), StatusDeviates, "mode BOTH"},

		{"server stores", decideServerStores(serverStoresObs{storeCount{2, 2}, true}), StatusHolds, "2 per full handshake"},
		{"server: TLS 1.2 ticket stores nothing", decideServerStores(serverStoresObs{storeCount{0, 0}, false}), StatusDeviates, "no session ID"},
		{"server: TLS 1.3 ticket skips the cache", decideServerStores(serverStoresObs{storeCount{0, 2}, true}), StatusDeviates, "not the internal cache"},
		{"internal resumption", decideServerResumesInternal(resumesInternalObs{1, resumedInternal}), StatusHolds, "1 session in the internal cache"},
		{"internal: not resumed", decideServerResumesInternal(resumesInternalObs{1, fullMiss}), StatusDeviates, "full handshake"},
		{"internal: ticket", decideServerResumesInternal(resumesInternalObs{0, resumedTicket}), StatusNA, "stateless ticket"},
		{"external resumption", decideServerResumesExternal(resumesExternalObs{0, 1, resumedExternal}), StatusHolds, "get(hit)"},
		{"external: hit not used", decideServerResumesExternal(resumesExternalObs{0, 1, withCalls(fullMiss, "get(hit)")}), StatusDeviates, "full handshake"},
		{"external: ticket", decideServerResumesExternal(resumesExternalObs{0, 2, resumedTicket}), StatusNA, "never asked"},

		{"BOTH is the union", decideBoth(bothTickets), StatusHolds, "0x3"},
		{"BOTH is the union: one context, one ID", decideBoth(bothSessionIDs), StatusHolds, "1 cached, server new-session callback 1 call, the two sides' sessions with one session ID; the client's session offered back through it: resumed"},
		{"BOTH value differs", decideBoth(bothObs{value: 7, client: 1, server: 2}), StatusDeviates, "0x7"},
		{"BOTH client differs", decideBoth(bothObs{value: 3, client: 1, server: 2, clientBoth: storeCount{0, 0}, clientClient: storeCount{1, 1}}), StatusDeviates, ""},
		{"BOTH: one context loses a session", decideBoth(func() bothObs { o := bothSessionIDs; o.one.sameID = false; return o }()), StatusDeviates, "their own session IDs"},
		{"BOTH: one context stores no server session", decideBoth(func() bothObs { o := bothSessionIDs; o.one.calls = 0; return o }()), StatusDeviates, "server new-session callback 0 calls"},
		{"BOTH: one context does not resume", decideBoth(func() bothObs { o := bothTickets; o.one.resume = fullNoCount; return o }()), StatusDeviates, "offered back through it: full handshake"},
		{"one context: the client's session replaces the server's", decideOneCtxSharedID(oneShared), StatusHolds, "1 cached (new-session callback: server 1 call, client 1 call; remove callback 0 calls); the cached object is the client's"},
		{"one context: the server's session stays", decideOneCtxSharedID(func() oneCtxRun { o := oneShared; o.survivor = "server"; return o }()), StatusDeviates, "the cached object is the server's"},
		{"one context: the replaced session is removed", decideOneCtxSharedID(func() oneCtxRun { o := oneShared; o.removes = 1; return o }()), StatusDeviates, "remove callback 1 call"},
		{"one context: no resumption", decideOneCtxSharedID(func() oneCtxRun { o := oneShared; o.resume = fullMiss; return o }()), StatusDeviates, "full handshake"},
		{"one context: own IDs", decideOneCtxSharedID(oneCtxRun{cached: 4, calls: 2, clientCalls: 2, resume: resumedTicket}), StatusNA, "their own session IDs"},

		{"auto-clear: every 255", decideAutoClear(autoClearObs{[]flushSeries{series(false, []int{255, 510}, []int{255, 510}), series(true, []int{255, 510}, []int{255, 510})}}), StatusHolds, "every 255 connections"},
		{"auto-clear: every 256", decideAutoClear(autoClearObs{[]flushSeries{series(false, []int{256, 512}, []int{256, 512}), series(true, []int{256, 512}, []int{256, 512})}}), StatusDeviates, "server 256, 512, client 256, 512"},
		{"auto-clear: never on full server handshakes", decideAutoClear(autoClearObs{[]flushSeries{series(false, nil, []int{256, 512}), series(true, []int{256, 512}, []int{256, 512})}}), StatusDeviates, "server never"},
		{"auto-clear: nothing run", decideAutoClear(autoClearObs{}), StatusDeviates, "no connections"},
		{"no auto-clear: never flushed", decideNoAutoClear(flushSeries{resume: true, conns: 600, resumed: 599, serverLeft: true, cli: true}), StatusHolds, "server never, client never"},
		{"no auto-clear: flushed", decideNoAutoClear(flushSeries{resume: true, conns: 600, server: []int{256}, cli: true}), StatusDeviates, "server 256"},
		{"explicit flush", decideExplicitFlush(explicitFlushObs{cached: 2, removed1: 1, removeCalls1: 1, removed2: 1, removeCalls2: 1}), StatusHolds, "removed 1 (remove callback: 1 call"},
		{"explicit flush: the unexpired went too", decideExplicitFlush(explicitFlushObs{cached: 2, removed1: 2, removeCalls1: 2}), StatusDeviates, "removed 2"},
		{"explicit flush: no remove callback", decideExplicitFlush(explicitFlushObs{cached: 2, removed1: 1, removed2: 1}), StatusDeviates, "remove callback: 0 calls"},
		{"explicit flush: nothing cached", decideExplicitFlush(explicitFlushObs{}), StatusNA, "nothing cached"},

		{"cache size: holds its size", decideCacheSize(cacheSizeObs{size: 3, after: []int64{1, 2, 3, 3, 3}, cacheFull: 2}), StatusHolds, "1, 2, 3, 3, 3"},
		{"cache size: one short", decideCacheSize(cacheSizeObs{size: 3, after: []int64{1, 2, 2, 2, 2}, cacheFull: 3}), StatusDeviates, "never holds more than 2, 1 fewer"},
		{"cache size: exceeded", decideCacheSize(cacheSizeObs{size: 3, after: []int64{1, 2, 3, 4, 5}}), StatusDeviates, "exceeds its size"},
		{"cache size: nothing cached", decideCacheSize(cacheSizeObs{size: 3, after: []int64{0, 0}}), StatusNA, "0 sessions added"},

		{"lookup skipped", decideSkipsInternal(skipsInternalObs{1, fullNoCount}), StatusHolds, "not counted as a miss"},
		{"lookup not skipped", decideSkipsInternal(skipsInternalObs{1, resumedInternal}), StatusDeviates, "resumed"},
		{"lookup skipped: ticket", decideSkipsInternal(skipsInternalObs{0, resumedTicket}), StatusNA, ""},
		{"external only", decideExternalOnly(externalOnlyObs{internal: 1, stored: 1, inStore: resumedExternal, internalAfter: 1, notInStore: withCalls(fullNoCount, "get(miss)")}), StatusHolds, "get(miss)"},
		{"external only: internal used", decideExternalOnly(externalOnlyObs{internal: 1, stored: 1, inStore: resumedExternal, internalAfter: 1, notInStore: withCalls(resumedInternal, "get(miss)")}), StatusDeviates, ""},
		{"external only: ticket", decideExternalOnly(externalOnlyObs{inStore: resumedTicket, notInStore: resumedTicket}), StatusNA, ""},
		{"client flag no-op", decideClientNoop(clientNoopObs{clientRun{1, 1, "resumed", 1, 1}, clientRun{1, 1, "resumed", 1, 1}}), StatusHolds, "alike"},
		{"client flag changes things", decideClientNoop(clientNoopObs{clientRun{1, 1, "resumed", 1, 1}, clientRun{1, 1, "full handshake", 1, 1}}), StatusDeviates, "full handshake"},
		{"no internal store", decideSkipsStore(skipsStoreObs{storeCount{1, 1}, storeCount{0, 1}, storeCount{1, 1}, storeCount{0, 1}}), StatusHolds, ""},
		{"no internal store: stored", decideSkipsStore(skipsStoreObs{storeCount{1, 1}, storeCount{1, 1}, storeCount{1, 1}, storeCount{0, 1}}), StatusDeviates, ""},
		{"no internal store: callback lost", decideSkipsStore(skipsStoreObs{storeCount{1, 1}, storeCount{0, 0}, storeCount{1, 1}, storeCount{0, 1}}), StatusDeviates, ""},
		{"manual add", decideManualAdd(manualAddObs{control: fullNoCount, added: true, cachedAfter: 1, afterManually: resumedInternal}), StatusHolds, "returned true"},
		{"manual add: not resumed", decideManualAdd(manualAddObs{control: fullNoCount, added: true, cachedAfter: 1, afterManually: fullMiss}), StatusDeviates, ""},
		{"manual add: ticket", decideManualAdd(manualAddObs{control: resumedTicket}), StatusNA, ""},

		{"copied", decideExternalHitCopied(externalHitObs{mode: ossl.CacheServer, stored: 1, resume: resumedExternal, internalAfter: 1, present: true}), StatusHolds, "the looked-up one in the internal cache"},
		{"not copied", decideExternalHitCopied(externalHitObs{mode: ossl.CacheServer, stored: 1, resume: resumedExternal}), StatusDeviates, "not in the internal cache"},
		{"copied: ticket", decideExternalHitCopied(externalHitObs{resume: resumedTicket}), StatusNA, ""},
		{"no copy", decideNoInternalStoreNoCopy(externalHitObs{mode: ossl.CacheServer | ossl.CacheNoInternalStore, stored: 1, resume: resumedExternal}), StatusHolds, "not in the internal cache"},
		{"no copy: copied anyway", decideNoInternalStoreNoCopy(externalHitObs{stored: 1, resume: resumedExternal, internalAfter: 1, present: true}), StatusDeviates, ""},
		{"NO_INTERNAL is both", decideNoInternal(noInternalObs{value: 0x300, lookup: 0x100, store: 0x200}), StatusHolds, "0x300"},
		{"NO_INTERNAL differs", decideNoInternal(noInternalObs{value: 0x300, lookup: 0x100, store: 0x200, both: serverRun{internal: 1}}), StatusDeviates, ""},

		{"update time: no flag", decideUpdateTime(updateTimeObs{headers: "OpenSSL 1.1.1w  11 Sep 2023"}), StatusNA, "lack SSL_SESS_CACHE_UPDATE_TIME"},
		{"update time: ticket", decideUpdateTime(updateTimeObs{has: true, internalHit: resumedTicket, externalHit: resumedTicket}), StatusNA, "stateless ticket"},
		{"update time: all refreshed", decideUpdateTime(stateful), StatusHolds, "refreshed (0 s old)"},
		{"update time: internal hit stale", decideUpdateTime(internalStale), StatusDeviates, "unchanged (1000 s old)"},
		{"update time: external copy stale", decideUpdateTime(externalStale), StatusDeviates, "flushed at its old expiry"},

		{"remove callback caches TLS 1.3", decideRemoveCb(removeCbObs{storeCount{0, 2}, storeCount{2, 2}}), StatusHolds, ""},
		{"remove callback changes nothing", decideRemoveCb(removeCbObs{storeCount{0, 2}, storeCount{0, 2}}), StatusDeviates, ""},
		{"single use", decideSingleUse(singleUseObs{cached: 2, first: resumedTicket, second: fullNoCount, controlFirst: resumedTicket, control: resumedTicket}), StatusHolds, "resumable=false"},
		{"reusable", decideSingleUse(singleUseObs{cached: 2, first: resumedTicket, resumableAfter: true, second: resumedTicket, controlFirst: resumedTicket, control: resumedTicket}), StatusDeviates, "resumable=true"},
		{"ctx free ends sessions", decideCtxFree(ctxFreed), StatusHolds, "CLIENT client 1 cached, remove callback 1 call at SSL_CTX_free (1 not forwarded, RemoveSkipped; 0 forwarded; the store saw 0)"},
		{"ctx free: nothing cached on the server", decideCtxFree(func() ctxFreeObs { o := ctxFreed; o.serverFree = removeAtFree{}; return o }()), StatusHolds, "0 cached, remove callback 0 calls"},
		{"ctx free keeps sessions", decideCtxFree(ctxFreeObs{cached: 1, before: true, after: true, elsewhere: resumedTicket, controlAfter: true, controlElsewhere: resumedTicket}), StatusDeviates, ""},
		{"ctx free: no remove callback", decideCtxFree(func() ctxFreeObs { o := ctxFreed; o.serverFree.skipped = 0; return o }()), StatusDeviates, "2 cached, remove callback 0 calls at SSL_CTX_free"},
		{"ctx free: client remove callback missing", decideCtxFree(func() ctxFreeObs { o := ctxFreed; o.clientFree.skipped = 0; return o }()), StatusDeviates, "CLIENT client 1 cached, remove callback 0 calls"},

		{"unclean free removes", decideUncleanFree(uncleanIDs), StatusHolds, "the client's session offered again: full handshake (hits 0, misses 1, cb hits 0)"},
		{"unclean free: TLS 1.2 ticket, the server caches nothing", decideUncleanFree(uncleanTLS12Ticket), StatusHolds, "the server cached nothing"},
		{"unclean free: stateless ticket resumes", decideUncleanFree(uncleanStateless), StatusDeviates, "yet the client's ticket resumed it"},
		{"unclean free: session kept", decideUncleanFree(func() uncleanObs { o := uncleanIDs; o.unclean.server = kept(1); return o }()), StatusDeviates, "neither side called SSL_shutdown, then SSL_free: server 1 → 1 cached, remove callback 0 calls, session resumable=true"},
		{"unclean free: no remove callback", decideUncleanFree(func() uncleanObs { o := uncleanIDs; o.unclean.client.removes = 0; return o }()), StatusDeviates, "client 1 → 0 cached, remove callback 0 calls"},
		{"unclean free: resumed again", decideUncleanFree(func() uncleanObs { o := uncleanIDs; o.unclean.again = resumedInternal; return o }()), StatusDeviates, ""},
		{"unclean free: the client's clean shutdown lost its session", decideUncleanFree(func() uncleanObs { o := uncleanIDs; o.serverUnclean.client = removedSide(1); return o }()), StatusDeviates, ""},
		{"unclean free: clean control lost", decideUncleanFree(func() uncleanObs { o := uncleanIDs; o.clean.server = removedSide(1); return o }()), StatusDeviates, "the clean control lost its session"},
		{"unclean free: nothing cached", decideUncleanFree(uncleanObs{}), StatusNA, "nothing cached on either side"},
		{"timeout 300", decideDefaultTimeout(timeoutObs{300 * time.Second, 300 * time.Second, 300 * time.Second, 300 * time.Second}), StatusHolds, "server 300 s"},
		{"timeout 7200", decideDefaultTimeout(timeoutObs{2 * time.Hour, 2 * time.Hour, 2 * time.Hour, 2 * time.Hour}), StatusDeviates, "server 7200 s"},

		{"early once: accepted, replay full", decideEarlyOnceInternal(earlyOnceObs{earlyStatefulOnce, resumedInternal, fullMiss}), StatusHolds, "another session offered twice without early data: resumed, then full handshake"},
		{"early once: replay accepted", decideEarlyOnceInternal(earlyOnceObs{earlyObs{maxEarly: earlyLimit, cached: 2, first: earlyAccepted, replay: earlyAccepted}, resumedInternal, fullMiss}), StatusDeviates, "its replay: resumed, early data accepted, 46 of 46 bytes read"},
		{"early once: reused without early data", decideEarlyOnceInternal(earlyOnceObs{earlyStatefulOnce, resumedInternal, resumedInternal}), StatusDeviates, "resumed, then resumed"},
		{"early once: nothing cached", decideEarlyOnceInternal(earlyOnceObs{earlyObs{maxEarly: earlyLimit, first: earlyAccepted, replay: earlyReplayRejected}, resumedInternal, fullMiss}), StatusDeviates, "0 sessions cached"},
		{"early once: TLS 1.2", decideEarlyOnceInternal(earlyOnceObs{earlyObs: earlyTLS12}), StatusNA, "TLSv1.2: the client's session from a full handshake with a server whose max_early_data is 1024 allows no early data (max_early_data 0"},
		{"early: accepted once", decideEarlyOnce(earlyStatefulOnce), StatusHolds, "early data rejected, 0 bytes read"},
		{"early: store hit not resumed", decideEarlyOnce(earlyObs{setup: earlySetup{store: "all"}, maxEarly: earlyLimit, first: earlyHitNotResumed, replay: earlyReplayRejected}), StatusDeviates, "the store found the session (get(hit)) and libssl did not resume it"},
		{"early: replay from a stateless ticket", decideEarlyOnce(earlyObs{setup: earlySetup{store: "single-use"}, maxEarly: earlyLimit, first: earlyAccepted, replay: earlyAccepted}), StatusDeviates, "a stateless ticket carries the session"},
		{"early: resumed without its early data", decideEarlyOnce(earlyObs{maxEarly: earlyLimit, first: earlyResumedNoData, replay: earlyReplayRejected}), StatusDeviates, "resumed, early data rejected"},
		{"early: not all read", decideEarlyOnce(earlyObs{maxEarly: earlyLimit, first: earlyShort, replay: earlyReplayRejected}), StatusDeviates, "3 of 46 bytes read"},
		{"early: the sides disagree", decideEarlyOnce(earlyObs{maxEarly: earlyLimit, first: earlySidesDiffer, replay: earlyReplayRejected}), StatusDeviates, "client SSL_EARLY_DATA_REJECTED, server SSL_EARLY_DATA_ACCEPTED"},
		{"early: TLS 1.2", decideEarlyOnce(earlyTLS12), StatusNA, "early data is TLS 1.3's"},
		{"early store without remove: replayed", decideEarlyNeedsRemove(earlyRemoveObs{earlyObs{setup: earlySetup{store: "new+get"}, maxEarly: earlyLimit, first: earlyAccepted, replay: earlyFromStore}, earlyStatefulOnce}), StatusHolds, "store: get(hit)"},
		{"early store without remove: still single use", decideEarlyNeedsRemove(earlyRemoveObs{earlyObs{setup: earlySetup{mode: ossl.CacheServer, store: "new+get"}, maxEarly: earlyLimit, cached: 2, first: earlyAccepted, replay: earlyReplayRejected}, earlyStatefulOnce}), StatusDeviates, "SERVER, a store with new and get callbacks (no remove callback); after the full handshake 2 sessions cached, store 0 new-session calls; the session offered with early data: resumed, early data accepted, 46 of 46 bytes read (hits 1, misses 0, cb hits 0); its replay: full handshake"},
		{"early store with remove: replayed too", decideEarlyNeedsRemove(earlyRemoveObs{earlyObs{maxEarly: earlyLimit, first: earlyAccepted, replay: earlyFromStore}, earlyObs{maxEarly: earlyLimit, first: earlyAccepted, replay: earlyFromStore}}), StatusDeviates, "with the remove callback"},
		{"early store: TLS 1.2", decideEarlyNeedsRemove(earlyRemoveObs{without: earlyTLS12}), StatusNA, ""},
		{"no anti-replay: accepted twice", decideEarlyNoAntiReplay(earlyObs{setup: earlySetup{noReplay: true}, maxEarly: earlyLimit, first: earlyAccepted, replay: earlyAccepted}), StatusHolds, "SSL_OP_NO_ANTI_REPLAY"},
		{"no anti-replay: replay still rejected", decideEarlyNoAntiReplay(earlyStatefulOnce), StatusDeviates, "its replay: full handshake"},
		{"no anti-replay: TLS 1.2", decideEarlyNoAntiReplay(earlyTLS12), StatusNA, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.v.status, tt.v.observed)
			assert.Contains(t, tt.v.observed, tt.contains)
		})
	}
}

func TestPeriod(t *testing.T) {
	tests := []struct {
		series [][]int
		want   int
	}{
		{[][]int{{256, 512}, {255, 511}}, 256},
		{[][]int{{255, 510}}, 255},
		{[][]int{{256, 512}, {255, 510}}, 0},
		{[][]int{{256}, nil}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, period(tt.series...), "%v", tt.series)
	}
	assert.Equal(t, []int{255, 510}, every255(520))
	assert.Equal(t, "never", connList(nil))
	assert.Equal(t, "256, 512", connList([]int{256, 512}))
	assert.Equal(t, "1 session", nof(1, "session"))
	assert.Equal(t, "0 calls", nof(int64(0), "call"))
}

func TestRecorderIsInline(t *testing.T) {
	var s ossl.SessionStore = newRecorder()
	in, ok := s.(ossl.InlineStore)
	if assert.True(t, ok, "the recorder must be called inline to log libssl's order") {
		assert.True(t, in.RunsInline(s))
	}
}
