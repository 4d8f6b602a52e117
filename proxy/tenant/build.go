package tenant

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/secret"
)

// Source is what Build reads: every tenant, domain, active pixel and
// non-retired cookie key, and the config version.
type Source interface {
	ListTenants(ctx context.Context) ([]store.Tenant, error)
	AllDomains(ctx context.Context) ([]store.TenantDomain, error)
	AllActivePixels(ctx context.Context) ([]store.Pixel, error)
	AllCookieKeys(ctx context.Context) ([]store.CookieKey, error)
	ConfigVersion(ctx context.Context) (int64, error)
}

// Build reads the whole edge configuration and returns a new snapshot. The
// config version is read first, so a change made while Build reads bumps the
// version past Snapshot.Version and the next poll rebuilds. A tenant whose
// configuration is invalid (bad stored settings, no active cookie key, a key
// that cannot be opened) is left out and reported in Snapshot.Skipped; it
// never affects other tenants. Only store errors fail the build.
func Build(ctx context.Context, src Source, kr *secret.Keyring, now time.Time) (*Snapshot, error) {
	ver, err := src.ConfigVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read config version: %w", err)
	}
	tenants, err := src.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list tenants: %w", err)
	}
	domains, err := src.AllDomains(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list domains: %w", err)
	}
	pixels, err := src.AllActivePixels(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list pixels: %w", err)
	}
	keys, err := src.AllCookieKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list cookie keys: %w", err)
	}

	pixelsBy := map[string][]store.Pixel{}
	for _, p := range pixels {
		if !p.IsActive {
			continue
		}
		p.Credentials = store.Sealed{}
		p.CredentialHints = nil
		pixelsBy[p.TenantID] = append(pixelsBy[p.TenantID], p)
	}
	keysBy := map[string][]store.CookieKey{}
	for _, k := range keys {
		if k.Active {
			keysBy[k.TenantID] = append(keysBy[k.TenantID], k)
		}
	}

	s := &Snapshot{Version: ver, BuiltAt: now, domains: map[string]*Domain{}, tenants: map[string]*Tenant{}}
	for _, st := range tenants {
		t, err := buildTenant(st, pixelsBy[st.ID], keysBy[st.ID], kr, now)
		if err != nil {
			s.Skipped = append(s.Skipped, fmt.Errorf("tenant %s (%s): %w", st.ID, st.Slug, err))
			continue
		}
		t.Version = ver
		s.tenants[t.ID] = t
	}

	// A hostname claimed twice (the store forbids it; a corrupt row could
	// not) is served by nobody: never route one tenant's host to another.
	claimed := map[string]int{}
	for _, d := range domains {
		claimed[d.Hostname]++
	}
	for _, d := range domains {
		t := s.tenants[d.TenantID]
		if t == nil {
			continue
		}
		if claimed[d.Hostname] > 1 {
			s.Skipped = append(s.Skipped, fmt.Errorf("hostname %q is claimed by more than one tenant", d.Hostname))
			continue
		}
		if !validHost(d.Hostname) {
			s.Skipped = append(s.Skipped, fmt.Errorf("tenant %s: hostname %q is not a lowercase DNS name", d.TenantID, d.Hostname))
			continue
		}
		s.domains[d.Hostname] = &Domain{
			Hostname:     d.Hostname,
			CookieDomain: d.CookieDomain,
			Verified:     d.Verification == store.VerificationVerified,
			Tenant:       t,
		}
	}
	return s, nil
}

func buildTenant(st store.Tenant, pixels []store.Pixel, keys []store.CookieKey, kr *secret.Keyring, now time.Time) (*Tenant, error) {
	if err := CheckSettings(st.Settings); err != nil {
		return nil, err
	}
	t := &Tenant{
		ID:          st.ID,
		Slug:        st.Slug,
		Settings:    st.Settings,
		Policy:      PolicyOf(st.Settings),
		LoaderPath:  cmp.Or(st.Settings.LoaderPath, DefaultPath(st.ID, KindLoader)),
		CollectPath: cmp.Or(st.Settings.CollectPath, DefaultPath(st.ID, KindCollect)),
		ConsentPath: cmp.Or(st.Settings.ConsentPath, DefaultPath(st.ID, KindConsent)),
		Origins:     map[string]struct{}{},
		Pixels:      pixels,
		VerifyKeys:  map[string][]byte{},
	}
	if t.LoaderPath == t.CollectPath || t.LoaderPath == t.ConsentPath || t.CollectPath == t.ConsentPath {
		return nil, fmt.Errorf("edge paths collide (a configured path equals a default one)")
	}
	t.routes = append(t.routes,
		route{path: t.LoaderPath, ep: EndpointLoader},
		route{path: t.CollectPath, ep: EndpointCollect},
		route{path: t.ConsentPath, ep: EndpointConsent},
	)
	for _, pp := range st.Settings.PreviousPaths {
		ep := endpointOf(pp.Kind)
		if ep == EndpointNone || CheckPath(pp.Path) != nil || !now.Before(pp.Until) {
			continue // unknown kind, bad path or grace over: not served
		}
		if pp.Path == t.LoaderPath || pp.Path == t.CollectPath || pp.Path == t.ConsentPath {
			continue // reused by a current path, which wins
		}
		t.routes = append(t.routes, route{path: pp.Path, ep: ep, until: pp.Until})
	}

	var err error
	if t.ForwardedHostCIDRs, err = ParseCIDRs(st.Settings.ForwardedHostCIDRs); err != nil {
		return nil, fmt.Errorf("settings.forwarded_host_cidrs: %w", err)
	}
	for _, site := range st.Settings.Sites {
		o, err := ParseSite(site)
		if err != nil {
			return nil, fmt.Errorf("settings.sites: %w", err)
		}
		t.Origins[o] = struct{}{}
	}
	for _, p := range pixels {
		for _, d := range p.Domains {
			if !validHost(d) {
				continue // admin validates; never widen the allow-list on a bad row
			}
			t.Origins["https://"+d] = struct{}{}
			if IsLocalhost(d) {
				t.Origins["http://"+d] = struct{}{}
			}
		}
	}

	// Newest active key signs; ties broken by key id for determinism.
	slices.SortStableFunc(keys, func(a, b store.CookieKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.KeyID, a.KeyID)
	})
	for i, k := range keys {
		raw, err := kr.Open(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("cookie key %q: %w", k.KeyID, err)
		}
		if len(raw) < 16 {
			return nil, fmt.Errorf("cookie key %q: %d bytes, need at least 16", k.KeyID, len(raw))
		}
		if !validKeyID(k.KeyID) {
			return nil, fmt.Errorf("cookie key id %q: want 1-16 of [A-Za-z0-9_-]", k.KeyID)
		}
		t.VerifyKeys[k.KeyID] = raw
		if i == 0 {
			t.SignKey = Key{ID: k.KeyID, Secret: raw}
		}
	}
	if t.SignKey.ID == "" {
		return nil, fmt.Errorf("no active cookie key")
	}
	return t, nil
}

// validKeyID: key ids travel in the consent cookie, separated by '.'.
func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
