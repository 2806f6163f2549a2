package conformance

import "fmt"

// check is the Go side of a claim of claims.md: the function that observes
// libssl and decides.
type check struct {
	run func(p *probe) verdict
	// heavy marks checks that run hundreds of handshakes; they are
	// scheduled first.
	heavy bool
}

// checks maps the ID of every claim of claims.md to its check. A claim
// without a check gives "error" rows; a test keeps the two lists alike.
var checks = map[string]check{
	"set-returns-previous":                  {run: checkSetReturnsPrevious},
	"get-returns-current":                   {run: checkGetReturnsCurrent},
	"default-is-server":                     {run: checkDefaultIsServer},
	"cache-per-ctx":                         {run: checkCachePerCtx},
	"reuse-or-full":                         {run: checkReuseOrFull},
	"lookup-internal-then-external":         {run: checkLookupInternalThenExternal},
	"sid-ctx-isolation":                     {run: checkSIDCtxIsolation},
	"off-server-no-store":                   {run: checkOffServerNoStore},
	"off-client-no-store":                   {run: checkOffClientNoStore},
	"off-no-resumption":                     {run: checkOffNoResumption},
	"client-stores":                         {run: checkClientStores},
	"client-no-auto-reuse":                  {run: checkClientNoAutoReuse},
	"client-set-session-reuses":             {run: checkClientSetSessionReuses},
	"client-not-default":                    {run: checkClientNotDefault},
	"server-stores":                         {run: checkServerStores},
	"server-resumes-internal":               {run: checkServerResumesInternal},
	"server-resumes-external":               {run: checkServerResumesExternal},
	"both-is-union":                         {run: checkBothIsUnion},
	"auto-clear-every-255":                  {run: checkAutoClear, heavy: true},
	"no-auto-clear":                         {run: checkNoAutoClear, heavy: true},
	"explicit-flush":                        {run: checkExplicitFlush},
	"no-internal-lookup-skips-internal":     {run: checkNoInternalLookupSkipsInternal},
	"no-internal-lookup-external-only":      {run: checkNoInternalLookupExternalOnly},
	"no-internal-lookup-client-noop":        {run: checkNoInternalLookupClientNoop},
	"no-internal-store-skips-store":         {run: checkNoInternalStoreSkipsStore},
	"no-internal-store-manual-add":          {run: checkNoInternalStoreManualAdd},
	"external-hit-copied":                   {run: checkExternalHitCopied},
	"no-internal-store-no-copy":             {run: checkNoInternalStoreNoCopy},
	"no-internal-is-both":                   {run: checkNoInternalIsBoth},
	"update-time":                           {run: checkUpdateTime},
	"cache-size-limit":                      {run: checkCacheSizeLimit},
	"default-timeout-300":                   {run: checkDefaultTimeout},
	"verify-peer-without-sid-ctx":           {run: checkVerifyPeerWithoutSIDCtx},
	"tls13-stateless-cached-with-remove-cb": {run: checkTLS13StatelessCachedWithRemoveCb},
	"tls13-client-single-use":               {run: checkTLS13ClientSingleUse},
	"ctx-free-ends-sessions":                {run: checkCtxFreeEndsSessions},
	"unclean-free-removes-session":          {run: checkUncleanFreeRemovesSession},
	"one-ctx-shared-session-id":             {run: checkOneCtxSharedSessionID},
	"early-data-once-internal":              {run: checkEarlyDataOnceInternal},
	"early-data-no-anti-replay":             {run: checkEarlyDataNoAntiReplay},
	"early-data-external-needs-remove":      {run: checkEarlyDataExternalNeedsRemove},
	"early-data-no-internal-lookup":         {run: checkEarlyDataNoInternalLookup},
	"early-data-no-internal-store":          {run: checkEarlyDataNoInternalStore},
	"early-data-no-internal":                {run: checkEarlyDataNoInternal},
	"early-data-external-single-use":        {run: checkEarlyDataExternalSingleUse},
}

// checkFor returns the check of a claim; for a claim that has none, one
// that fails, so that its rows say so.
func checkFor(claimID string) check {
	if c, ok := checks[claimID]; ok {
		return c
	}
	return check{run: func(p *probe) verdict {
		p.fail("claim %s of claims.md has no check in checks.go", claimID)
		return verdict{}
	}}
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
