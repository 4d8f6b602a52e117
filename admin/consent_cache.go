package admin

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/store"
)

// Sizes and lifetime of the consent cache (consentCache).
const (
	consentCacheRecords  = 100_000
	consentCachePolicies = 10_000
	consentCacheTTL      = 30 * time.Second
)

// consentCache spares the server-side events API a database read per event
// (consent issue §4: "server-side events use a cache plus the same set"):
// per process, it keeps tenants' consent policies and visitors' latest
// consent records that GRANT something, each for at most consentCacheTTL.
//
// Why it is safe:
//   - A record that refuses everything is never cached (it is read again
//     every time), so a newer grant is never hidden by a stale refusal.
//   - A cached grant made stale by a newer decision through the API (a
//     revocation, or a refusal) on ANY instance is still caught: such a
//     decision is written to the revocation set, which the atomic admit
//     checks against the cached record's time (Entry.DecidedAt) — the event
//     is refused as revoked. Decisions through this process also drop the
//     entry at once.
//   - Left: a refusal made on the BANNER after a grant (banner decisions do
//     not enter the revocation set) reaches server events of that visitor
//     up to consentCacheTTL late; and a tenant's policy edited through
//     another instance applies here up to consentCacheTTL late.
type consentCache struct {
	now      func() time.Time
	records  *lru.Cache[visitorKey, cached[store.ConsentRecord]]
	policies *lru.Cache[string, cached[consent.Policy]]
}

type visitorKey struct{ tenant, visitor string }

// cached is a value and the time it stops being served. (The library's
// expirable LRU runs a goroutine per cache that nothing stops; an expiry
// checked on read needs none.)
type cached[V any] struct {
	v     V
	until time.Time
}

func newConsentCache(now func() time.Time) *consentCache {
	records, _ := lru.New[visitorKey, cached[store.ConsentRecord]](consentCacheRecords)
	policies, _ := lru.New[string, cached[consent.Policy]](consentCachePolicies)
	return &consentCache{now: now, records: records, policies: policies}
}

func get[K comparable, V any](c *lru.Cache[K, cached[V]], k K, now time.Time) (V, bool) {
	e, ok := c.Get(k)
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// record returns the visitor's cached granting record.
func (c *consentCache) record(tenantID, visitorID string) (store.ConsentRecord, bool) {
	return get(c.records, visitorKey{tenantID, visitorID}, c.now())
}

// keep caches r when it grants something.
func (c *consentCache) keep(r store.ConsentRecord) {
	if r.Analytics || r.Marketing || r.Functional {
		c.records.Add(visitorKey{r.TenantID, r.VisitorID}, cached[store.ConsentRecord]{r, c.now().Add(consentCacheTTL)})
	}
}

// forget drops the visitor's entry (a decision was just recorded here).
func (c *consentCache) forget(tenantID, visitorID string) {
	c.records.Remove(visitorKey{tenantID, visitorID})
}

func (c *consentCache) policy(tenantID string) (consent.Policy, bool) {
	return get(c.policies, tenantID, c.now())
}

func (c *consentCache) keepPolicy(tenantID string, p consent.Policy) {
	c.policies.Add(tenantID, cached[consent.Policy]{p, c.now().Add(consentCacheTTL)})
}

// forgetPolicy drops the tenant's policy (its settings changed here).
func (c *consentCache) forgetPolicy(tenantID string) { c.policies.Remove(tenantID) }
