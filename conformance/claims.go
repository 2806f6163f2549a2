package conformance

import "fmt"

// Statuses a row carries. StatusError marks a check that could not run (a
// handshake failed where none should): it never matches an expectation.
const (
	StatusHolds    = "holds"
	StatusDeviates = "deviates"
	StatusNA       = "n/a"
	StatusError    = "error"
)

// Claim is one statement checked by the suite.
type Claim struct {
	// ID is the claim's stable identifier (the IDs of claims.md are fixed).
	ID string
	// Text is the man page text the claim comes from; for an added claim,
	// the statement checked, with where it comes from.
	Text string
	// Added marks claims the suite adds to those of claims.md: behaviour
	// the page does not mention that a user would trip over.
	Added bool
	// Variants lists the variants the claim is checked under ("any" for
	// claims about the API alone).
	Variants []string

	variants []Variant
	check    func(p *probe) verdict
	// heavy marks checks that run hundreds of handshakes; they are
	// scheduled first.
	heavy bool
}

// verdict is a check's decision and the observation it rests on.
type verdict struct {
	status   string
	observed string
}

func holds(format string, args ...any) verdict {
	return verdict{StatusHolds, fmt.Sprintf(format, args...)}
}

func deviates(format string, args ...any) verdict {
	return verdict{StatusDeviates, fmt.Sprintf(format, args...)}
}

func notApplicable(format string, args ...any) verdict {
	return verdict{StatusNA, fmt.Sprintf(format, args...)}
}

// decide returns holds when ok, deviates otherwise, with the same text.
func decide(ok bool, format string, args ...any) verdict {
	if ok {
		return holds(format, args...)
	}
	return deviates(format, args...)
}

func claim(id, text string, vs []Variant, check func(p *probe) verdict) Claim {
	c := Claim{ID: id, Text: text, variants: vs, check: check}
	for _, v := range vs {
		c.Variants = append(c.Variants, v.Name)
	}
	return c
}

func added(c Claim) Claim { c.Added = true; return c }

func heavy(c Claim) Claim { c.heavy = true; return c }

// registry is every claim, in report order: those of claims.md first, in
// its order, then the added ones.
var registry = []Claim{
	claim("set-returns-previous",
		"SSL_CTX_set_session_cache_mode() returns the previously set cache mode.",
		apiOnly, checkSetReturnsPrevious),
	claim("get-returns-current",
		"SSL_CTX_get_session_cache_mode() returns the currently set cache mode.",
		apiOnly, checkGetReturnsCurrent),
	claim("default-is-server",
		"The default mode is SSL_SESS_CACHE_SERVER.",
		apiOnly, checkDefaultIsServer),
	claim("cache-per-ctx",
		"The sessions can be held in memory for each ctx, if more than one SSL_CTX object is being maintained, the sessions are unique for each SSL_CTX object.",
		allVariants, checkCachePerCtx),
	claim("reuse-or-full",
		"The server then either agrees to reuse the session or it starts a full handshake (to create a new session).",
		allVariants, checkReuseOrFull),
	claim("lookup-internal-then-external",
		"A server will look up the session in its internal session storage. If the session is not found in internal storage or lookups for the internal storage have been deactivated (SSL_SESS_CACHE_NO_INTERNAL_LOOKUP), the server will try the external storage if available.",
		allVariants, checkLookupInternalThenExternal),
	claim("sid-ctx-isolation",
		"Since a client may try to reuse a session intended for use in a different context, the session id context must be set by the server (see SSL_CTX_set_session_id_context(3)).",
		allVariants, checkSIDCtxIsolation),
	claim("off-server-no-store",
		"SSL_SESS_CACHE_OFF: No session caching for client or server takes place. (server side)",
		allVariants, checkOffServerNoStore),
	claim("off-client-no-store",
		"SSL_SESS_CACHE_OFF: No session caching for client or server takes place. (client side)",
		allVariants, checkOffClientNoStore),
	claim("off-no-resumption",
		"SSL_SESS_CACHE_OFF: No session caching for client or server takes place. (so an OFF server cannot resume)",
		allVariants, checkOffNoResumption),
	claim("client-stores",
		"SSL_SESS_CACHE_CLIENT: Client sessions are added to the session cache.",
		allVariants, checkClientStores),
	claim("client-no-auto-reuse",
		"SSL_SESS_CACHE_CLIENT: As there is no reliable way for the OpenSSL library to know whether a session should be reused or which session to choose (due to the abstract BIO layer the SSL engine does not have details about the connection), the application must select the session to be reused by using the SSL_set_session(3) function.",
		allVariants, checkClientNoAutoReuse),
	claim("client-set-session-reuses",
		"SSL_SESS_CACHE_CLIENT: the application must select the session to be reused by using the SSL_set_session(3) function.",
		allVariants, checkClientSetSessionReuses),
	claim("client-not-default",
		"SSL_SESS_CACHE_CLIENT: This option is not activated by default.",
		allVariants, checkClientNotDefault),
	claim("server-stores",
		"SSL_SESS_CACHE_SERVER: Server sessions are added to the session cache.",
		allVariants, checkServerStores),
	claim("server-resumes-internal",
		"SSL_SESS_CACHE_SERVER: When a client proposes a session to be reused, the server looks for the corresponding session in (first) the internal session cache (unless SSL_SESS_CACHE_NO_INTERNAL_LOOKUP is set) ... If the session is found, the server will try to reuse the session.",
		allVariants, checkServerResumesInternal),
	claim("server-resumes-external",
		"SSL_SESS_CACHE_SERVER: ... then (second) in the external cache if available. If the session is found, the server will try to reuse the session.",
		allVariants, checkServerResumesExternal),
	claim("both-is-union",
		"SSL_SESS_CACHE_BOTH: Enable both SSL_SESS_CACHE_CLIENT and SSL_SESS_CACHE_SERVER at the same time.",
		allVariants, checkBothIsUnion),
	heavy(claim("auto-clear-every-255",
		"SSL_SESS_CACHE_NO_AUTO_CLEAR: Normally the session cache is checked for expired sessions every 255 connections using the SSL_CTX_flush_sessions(3) function.",
		allVariants, checkAutoClear)),
	heavy(claim("no-auto-clear",
		"SSL_SESS_CACHE_NO_AUTO_CLEAR: Since this may lead to a delay which cannot be controlled, the automatic flushing may be disabled",
		allVariants, checkNoAutoClear)),
	claim("explicit-flush",
		"SSL_SESS_CACHE_NO_AUTO_CLEAR: ... and SSL_CTX_flush_sessions(3) can be called explicitly by the application.",
		allVariants, checkExplicitFlush),
	claim("no-internal-lookup-skips-internal",
		"SSL_SESS_CACHE_NO_INTERNAL_LOOKUP: By setting this flag, session-resume operations in an SSL/TLS server will not automatically look up sessions in the internal cache, even if sessions are automatically stored there.",
		allVariants, checkNoInternalLookupSkipsInternal),
	claim("no-internal-lookup-external-only",
		"SSL_SESS_CACHE_NO_INTERNAL_LOOKUP: If external session caching callbacks are in use, this flag guarantees that all lookups are directed to the external cache.",
		allVariants, checkNoInternalLookupExternalOnly),
	claim("no-internal-lookup-client-noop",
		"SSL_SESS_CACHE_NO_INTERNAL_LOOKUP: As automatic lookup only applies for SSL/TLS servers, the flag has no effect on clients.",
		allVariants, checkNoInternalLookupClientNoop),
	claim("no-internal-store-skips-store",
		"SSL_SESS_CACHE_NO_INTERNAL_STORE: Normally a new session is added to the internal cache as well as any external session caching (callback) that is configured for the SSL_CTX. This flag will prevent sessions being stored in the internal cache",
		allVariants, checkNoInternalStoreSkipsStore),
	claim("no-internal-store-manual-add",
		"SSL_SESS_CACHE_NO_INTERNAL_STORE: (though the application can add them manually using SSL_CTX_add_session(3))",
		allVariants, checkNoInternalStoreManualAdd),
	claim("external-hit-copied",
		"Note: in any SSL/TLS servers where external caching is configured, any successful session lookups in the external cache (ie. for session-resume requests) would normally be copied into the local cache before processing continues",
		allVariants, checkExternalHitCopied),
	claim("no-internal-store-no-copy",
		"SSL_SESS_CACHE_NO_INTERNAL_STORE: ... this flag prevents these additions to the internal cache as well.",
		allVariants, checkNoInternalStoreNoCopy),
	claim("no-internal-is-both",
		"SSL_SESS_CACHE_NO_INTERNAL: Enable both SSL_SESS_CACHE_NO_INTERNAL_LOOKUP and SSL_SESS_CACHE_NO_INTERNAL_STORE at the same time.",
		allVariants, checkNoInternalIsBoth),
	claim("update-time",
		"SSL_SESS_CACHE_UPDATE_TIME (OpenSSL 3.0 on; not in this page): Updates the timestamp of the session when it is used, increasing the lifespan of the session. The session timeout applies to last use, rather then creation time.",
		allVariants, checkUpdateTime),

	// Added claims: what the page does not say and a user trips over.
	added(claim("cache-size-limit",
		"SSL_CTX_sess_set_cache_size(3): a cache of size t holds up to t sessions; 'If adding the session makes the cache exceed its size, then unused sessions are dropped from the end of the cache.'",
		allVariants, checkCacheSizeLimit)),
	added(claim("default-timeout-300",
		"SSL_CTX_set_timeout(3): 'All currently supported protocols have the same default timeout value of 300 seconds.'",
		allVariants, checkDefaultTimeout)),
	added(claim("verify-peer-without-sid-ctx",
		"SSL_CTX_set_session_id_context(3): 'If the session id context is not set on an SSL/TLS server and client certificates are used, stored sessions will not be reused but a fatal error will be flagged and the handshake will fail.'",
		allVariants, checkVerifyPeerWithoutSIDCtx)),
	added(claim("tls13-stateless-cached-with-remove-cb",
		"Not in the page: a TLS 1.3 server with stateless tickets keeps its sessions out of the internal cache, unless a remove-session callback is installed: then it caches every ticket's session (ssl_update_cache).",
		[]Variant{TLS13}, checkTLS13StatelessCachedWithRemoveCb)),
	added(claim("tls13-client-single-use",
		"Not in the page: in SSL_SESS_CACHE_CLIENT mode a TLS 1.3 client takes a session out of its cache once it has been resumed and marks it not resumable, so each ticket is offered once (tls_finish_handshake).",
		tls13Only, checkTLS13ClientSingleUse)),
	added(claim("ctx-free-ends-sessions",
		"Not in the page: freeing a context flushes its cache (SSL_CTX_free(3)), which marks every session it cached not resumable, also the references the application kept: a client cannot resume them through another context.",
		allVariants, checkCtxFreeEndsSessions)),
}

// Claims returns every claim the suite checks, in report order.
func Claims() []Claim {
	out := make([]Claim, len(registry))
	copy(out, registry)
	return out
}
