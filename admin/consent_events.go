package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

// eventConsents holds, for one events call, the tenant's consent policy
// and each visitor's latest consent record, taken from the process-wide
// consentCache when it has them: at most one tenant read per call and one
// consent read per distinct visitor, and none for what the cache holds.
type eventConsents struct {
	tenantID string
	policy   *consent.Policy
	records  map[string]*store.ConsentRecord // visitor -> latest (nil: none)
	cached   map[string]bool                 // visitor -> its record came from the cache
}

// stale drops a visitor whose cached record the revocation set refused, so
// the next decision reads the store.
func (c *eventConsents) stale(cache *consentCache, visitorID string) {
	cache.forget(c.tenantID, visitorID)
	delete(c.records, visitorID)
	delete(c.cached, visitorID)
}

// eventConsent decides a server-side event with the one written rule
// (consent.Queued) and the tenant's policy (settings honor_gpc,
// ga4_analytics_only, server_legal_basis): it returns the categories the
// event is queued with, the decision time for the revocation check, and
// false when no platform may receive it (rejected: no_consent).
//
// The visitor's latest record decides. Without a visitor id or without a
// record the event is unconsented unless the tenant declares a server legal
// basis; it is then queued as if every category were granted, with no
// revocation check (there is no decision to be newer than). A recorded
// refusal or revocation is never overridden. Server-side calls carry no
// Sec-GPC.
func (a *API) eventConsent(ctx context.Context, c *eventConsents, visitorID string) (platforms.Consent, time.Time, bool, error) {
	if c.policy == nil {
		if p, ok := a.consentCache.policy(c.tenantID); ok {
			c.policy = &p
		}
	}
	if c.policy == nil {
		t, err := a.store.GetTenant(ctx, c.tenantID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return platforms.Consent{}, time.Time{}, false, errNotFound("tenant")
			}
			a.log.ErrorContext(ctx, "cannot read tenant", slog.String("tenant", c.tenantID),
				slog.String("request_id", requestID(ctx)), slog.String("error", err.Error()))
			return platforms.Consent{}, time.Time{}, false, &retryError{errf(http.StatusServiceUnavailable, codeUnavailable, "tenant settings are unavailable, retry later")}
		}
		p := tenant.PolicyOf(t.Settings)
		a.consentCache.keepPolicy(c.tenantID, p)
		c.policy = &p
	}
	var rec *store.ConsentRecord
	if visitorID != "" {
		var seen bool
		if rec, seen = c.records[visitorID]; !seen {
			if r, ok := a.consentCache.record(c.tenantID, visitorID); ok {
				c.records[visitorID], c.cached[visitorID] = &r, true
				rec, seen = &r, true
			}
		}
		if !seen {
			r, err := a.store.LatestConsent(ctx, c.tenantID, visitorID)
			switch {
			case err == nil:
				rec = &r
				a.consentCache.keep(r)
			case errors.Is(err, store.ErrNotFound):
			default:
				a.log.ErrorContext(ctx, "cannot read consent", slog.String("tenant", c.tenantID),
					slog.String("request_id", requestID(ctx)), slog.String("error", err.Error()))
				return platforms.Consent{}, time.Time{}, false, &retryError{errf(http.StatusServiceUnavailable, codeUnavailable, "consent records are unavailable, retry later")}
			}
			c.records[visitorID] = rec
		}
	}
	s := consent.State{HasRecord: rec != nil}
	var decided time.Time
	var version string
	if rec != nil {
		s.Analytics, s.Marketing, s.Functional = rec.Analytics, rec.Marketing, rec.Functional
		decided, version = decisionTime(rec.CreatedAt), rec.PolicyVersion
	}
	q, ok := consent.Queued(s, *c.policy)
	if !ok {
		return platforms.Consent{}, time.Time{}, false, nil
	}
	return platforms.Consent{Analytics: q.Analytics, Marketing: q.Marketing, Functional: q.Functional, Policy: version}, decided, true, nil
}

// ConsentPolicyView is a tenant's consent policy in force (TenantView):
// each setting, or its default when the tenant left it out.
type ConsentPolicyView struct {
	// HonorGPC: Sec-GPC: 1 withdraws marketing consent (default true).
	HonorGPC bool `json:"honor_gpc"`
	// GA4AnalyticsOnly: GA4 receives events with analytics consent alone,
	// ad_user_data and ad_personalization DENIED (default true).
	GA4AnalyticsOnly bool `json:"ga4_analytics_only"`
	// ServerLegalBasis: server-side events without a consent record are
	// sent as if every category were granted (default false).
	ServerLegalBasis bool `json:"server_legal_basis"`
}

func consentPolicyView(p consent.Policy) ConsentPolicyView {
	return ConsentPolicyView{HonorGPC: p.HonorGPC, GA4AnalyticsOnly: p.AnalyticsOnlyGA4, ServerLegalBasis: p.ServerLegalBasis}
}
