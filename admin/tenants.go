package admin

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

// TenantInput creates a tenant.
type TenantInput struct {
	Slug     string               `json:"slug"`
	Name     string               `json:"name"`
	Settings store.TenantSettings `json:"settings"`
}

// TenantView is a tenant as the API shows it.
type TenantView struct {
	ID        string               `json:"id"`
	Slug      string               `json:"slug"`
	Name      string               `json:"name"`
	Settings  store.TenantSettings `json:"settings"`
	CreatedAt time.Time            `json:"created_at"`
	UpdatedAt time.Time            `json:"updated_at"`
	// EdgePaths are the paths the edge serves the tenant on: configured,
	// or the tenant's deterministic defaults.
	EdgePaths EdgePaths `json:"edge_paths"`
	// ConsentPolicy is the consent policy in force: the settings
	// honor_gpc, ga4_analytics_only and server_legal_basis, or their
	// defaults (read only; change the settings).
	ConsentPolicy ConsentPolicyView `json:"consent_policy"`
}

// EdgePaths are a tenant's first-party endpoints on its edge hostnames.
type EdgePaths struct {
	Loader  string `json:"loader"`
	Collect string `json:"collect"`
	Consent string `json:"consent"`
}

func tenantView(t store.Tenant) TenantView {
	return TenantView{
		ID: t.ID, Slug: t.Slug, Name: t.Name, Settings: t.Settings, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		EdgePaths: EdgePaths{
			Loader:  cmp.Or(t.Settings.LoaderPath, tenant.DefaultPath(t.ID, tenant.KindLoader)),
			Collect: cmp.Or(t.Settings.CollectPath, tenant.DefaultPath(t.ID, tenant.KindCollect)),
			Consent: cmp.Or(t.Settings.ConsentPath, tenant.DefaultPath(t.ID, tenant.KindConsent)),
		},
		ConsentPolicy: consentPolicyView(tenant.PolicyOf(t.Settings)),
	}
}

// DomainInput adds a hostname to a tenant.
type DomainInput struct {
	Hostname string `json:"hostname"`
	// CookieDomain is the registrable domain the edge sets cookies on;
	// empty means the hostname minus its first label when it has three or
	// more labels (t.tenant.com → tenant.com), else the hostname.
	CookieDomain string `json:"cookie_domain"`
}

// DomainView is a tenant domain as the API shows it.
type DomainView struct {
	Hostname     string    `json:"hostname"`
	CookieDomain string    `json:"cookie_domain"`
	Verification string    `json:"verification"`
	VerifyToken  string    `json:"verify_token"`
	CreatedAt    time.Time `json:"created_at"`
}

func domainView(d store.TenantDomain) DomainView {
	return DomainView{Hostname: d.Hostname, CookieDomain: d.CookieDomain, Verification: d.Verification, VerifyToken: d.VerifyToken, CreatedAt: d.CreatedAt.UTC()}
}

// CookieKeyView describes a cookie-signing key without its secret.
type CookieKeyView struct {
	KeyID     string    `json:"key_id"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

func (in TenantInput) validate() error {
	if !slugRe.MatchString(in.Slug) {
		return fieldError("slug", "must match [a-z0-9][a-z0-9-]{1,62}")
	}
	if err := checkText("name", in.Name, true, 200); err != nil {
		return err
	}
	if err := checkPreviousPaths(nil, in.Settings.PreviousPaths); err != nil {
		return err
	}
	return validateSettings(in.Settings)
}

// CreateTenant validates in, creates the tenant and its first cookie-signing
// key. Errors match ErrValidation (bad input) or store.ErrConflict (slug
// taken).
func (a *API) CreateTenant(ctx context.Context, in TenantInput) (store.Tenant, error) {
	if err := in.validate(); err != nil {
		return store.Tenant{}, err
	}
	now := a.now().UTC()
	t, err := a.store.CreateTenant(ctx, store.Tenant{
		ID: uuid.NewString(), Slug: in.Slug, Name: in.Name, Settings: in.Settings,
		CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Tenant{}, errf(http.StatusConflict, codeConflict, "a tenant with slug %q already exists", in.Slug)
		}
		return store.Tenant{}, fmt.Errorf("cannot create tenant: %w", err)
	}
	if _, err := a.addCookieKey(ctx, t.ID); err != nil {
		// Undo: a tenant without a cookie key cannot serve consent.
		if derr := a.store.DeleteTenant(context.WithoutCancel(ctx), t.ID); derr != nil {
			a.log.ErrorContext(ctx, "cannot undo tenant creation", "tenant", t.ID, "error", derr.Error())
		}
		return store.Tenant{}, err
	}
	return t, nil
}

// addCookieKey creates a new active cookie-signing key for the tenant.
func (a *API) addCookieKey(ctx context.Context, tenantID string) (store.CookieKey, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	sealed, err := a.keyring.Seal(raw)
	clear(raw)
	if err != nil {
		return store.CookieKey{}, fmt.Errorf("cannot seal cookie key: %w", err)
	}
	k := store.CookieKey{TenantID: tenantID, KeyID: randomHex(4), Secret: sealed, Active: true, CreatedAt: a.now().UTC()}
	if err := a.store.AddCookieKey(ctx, k); err != nil {
		return store.CookieKey{}, fmt.Errorf("cannot add cookie key: %w", err)
	}
	return k, nil
}

// RotateCookieKeys adds a new active cookie-signing key to the tenant and
// retires every key older than the previous one, so cookies signed with the
// previous key keep verifying. It returns the tenant's keys, newest first.
func (a *API) RotateCookieKeys(ctx context.Context, tenantID string) ([]CookieKeyView, error) {
	if _, err := a.store.GetTenant(ctx, tenantID); err != nil {
		return nil, storeError(err, "tenant")
	}
	if _, err := a.addCookieKey(ctx, tenantID); err != nil {
		return nil, err
	}
	keys, err := a.store.ListCookieKeys(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("cannot list cookie keys: %w", err)
	}
	kept := 0
	for i, k := range keys {
		if !k.Active {
			continue
		}
		kept++
		if kept > 2 {
			if err := a.store.RetireCookieKey(ctx, tenantID, k.KeyID); err != nil {
				return nil, fmt.Errorf("cannot retire cookie key: %w", err)
			}
			keys[i].Active = false
		}
	}
	out := make([]CookieKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, CookieKeyView{KeyID: k.KeyID, Active: k.Active, CreatedAt: k.CreatedAt.UTC()})
	}
	return out, nil
}

func (in *DomainInput) normalize() error {
	in.Hostname = strings.ToLower(in.Hostname)
	in.CookieDomain = strings.ToLower(in.CookieDomain)
	if !validHostname(in.Hostname) {
		return fieldError("hostname", "must be a DNS hostname like t.example.com (ASCII, no port, no trailing dot)")
	}
	if in.CookieDomain == "" {
		if labels := strings.Split(in.Hostname, "."); len(labels) >= 3 {
			in.CookieDomain = strings.Join(labels[1:], ".")
		} else {
			in.CookieDomain = in.Hostname
		}
	}
	if !validHostname(in.CookieDomain) {
		return fieldError("cookie_domain", "must be a DNS hostname like example.com")
	}
	if in.Hostname != in.CookieDomain && !strings.HasSuffix(in.Hostname, "."+in.CookieDomain) {
		return fieldError("cookie_domain", "must be the hostname or one of its parent domains")
	}
	return nil
}

// AddDomain maps a hostname to the tenant (pending verification). Errors
// match ErrValidation, store.ErrNotFound (no such tenant) or
// store.ErrConflict (hostname taken by any tenant).
func (a *API) AddDomain(ctx context.Context, tenantID string, in DomainInput) (store.TenantDomain, error) {
	if err := in.normalize(); err != nil {
		return store.TenantDomain{}, err
	}
	if _, err := a.store.GetTenant(ctx, tenantID); err != nil {
		return store.TenantDomain{}, storeError(err, "tenant")
	}
	d, err := a.store.AddDomain(ctx, store.TenantDomain{
		Hostname: in.Hostname, TenantID: tenantID, CookieDomain: in.CookieDomain,
		Verification: store.VerificationPending, VerifyToken: "pixelgw-verify=" + randomHex(16),
		CreatedAt: a.now().UTC(),
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.TenantDomain{}, errf(http.StatusConflict, codeConflict, "hostname %q is already in use", in.Hostname)
		}
		return store.TenantDomain{}, fmt.Errorf("cannot add domain: %w", err)
	}
	return d, nil
}

// --- operator handlers ---

func (a *API) tenantFromPath(r *http.Request) (store.Tenant, error) {
	id, err := parseUUID(r.PathValue("id"), "tenant")
	if err != nil {
		return store.Tenant{}, err
	}
	t, err := a.store.GetTenant(r.Context(), id)
	if err != nil {
		return store.Tenant{}, storeError(err, "tenant")
	}
	return t, nil
}

func (a *API) handleListTenants(w http.ResponseWriter, r *http.Request, _ principal) error {
	ts, err := a.store.ListTenants(r.Context())
	if err != nil {
		return fmt.Errorf("cannot list tenants: %w", err)
	}
	out := make([]TenantView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenantView(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
	return nil
}

func (a *API) handleCreateTenant(w http.ResponseWriter, r *http.Request, _ principal) error {
	var in TenantInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	t, err := a.CreateTenant(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tenants/"+t.ID)
	writeJSON(w, http.StatusCreated, tenantView(t))
	return nil
}

func (a *API) handleGetTenant(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantView(t))
	return nil
}

// tenantPatch is the body of PATCH /tenants/{id} and /tenant. Each
// top-level settings field present replaces the stored one; null clears it.
type tenantPatch struct {
	Name     *string         `json:"name"`
	Settings json.RawMessage `json:"settings"`
}

func (a *API) patchTenant(w http.ResponseWriter, r *http.Request, t store.Tenant) error {
	var in tenantPatch
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	var p store.TenantPatch
	if in.Name != nil {
		if err := checkText("name", *in.Name, true, 200); err != nil {
			return err
		}
		p.Name = in.Name
	}
	if len(in.Settings) > 0 && !bytes.Equal(in.Settings, []byte("null")) {
		s, err := mergeSettings(t.Settings, in.Settings)
		if err != nil {
			return err
		}
		if err := checkPreviousPaths(t.Settings.PreviousPaths, s.PreviousPaths); err != nil {
			return err
		}
		if err := validateSettings(s); err != nil {
			return err
		}
		p.Settings = &s
	}
	if p.Name == nil && p.Settings == nil {
		writeJSON(w, http.StatusOK, tenantView(t))
		return nil
	}
	nt, err := a.store.UpdateTenant(r.Context(), t.ID, p)
	a.consentCache.forgetPolicy(t.ID)
	if err != nil {
		return storeError(err, "tenant")
	}
	writeJSON(w, http.StatusOK, tenantView(nt))
	return nil
}

// mergeSettings overlays the top-level fields of patch on cur, strictly.
func mergeSettings(cur store.TenantSettings, patch json.RawMessage) (store.TenantSettings, error) {
	var pm map[string]json.RawMessage
	if err := json.Unmarshal(patch, &pm); err != nil {
		return store.TenantSettings{}, errf(http.StatusBadRequest, codeBadRequest, "settings: must be a JSON object")
	}
	cb, err := json.Marshal(cur)
	if err != nil {
		return store.TenantSettings{}, fmt.Errorf("cannot encode settings: %w", err)
	}
	var cm map[string]json.RawMessage
	if err := json.Unmarshal(cb, &cm); err != nil {
		return store.TenantSettings{}, fmt.Errorf("cannot decode settings: %w", err)
	}
	for k, v := range pm {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(cm, k)
			continue
		}
		cm[k] = v
	}
	mb, err := json.Marshal(cm)
	if err != nil {
		return store.TenantSettings{}, fmt.Errorf("cannot encode settings: %w", err)
	}
	var s store.TenantSettings
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var he *httpError
		if errors.As(decodeError(err, 0), &he) {
			he.message = "settings: " + he.message
			return store.TenantSettings{}, he
		}
		return store.TenantSettings{}, errf(http.StatusBadRequest, codeBadRequest, "settings: malformed")
	}
	return s, nil
}

func (a *API) handlePatchTenant(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	return a.patchTenant(w, r, t)
}

func (a *API) handleDeleteTenant(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	if err := a.store.DeleteTenant(r.Context(), t.ID); err != nil {
		return storeError(err, "tenant")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listDomains(w http.ResponseWriter, r *http.Request, tenantID string) error {
	ds, err := a.store.ListDomains(r.Context(), tenantID)
	if err != nil {
		return fmt.Errorf("cannot list domains: %w", err)
	}
	out := make([]DomainView, 0, len(ds))
	for _, d := range ds {
		out = append(out, domainView(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"domains": out})
	return nil
}

func (a *API) handleListTenantDomains(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	return a.listDomains(w, r, t.ID)
}

func (a *API) handleAddTenantDomain(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	var in DomainInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	d, err := a.AddDomain(r.Context(), t.ID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, domainView(d))
	return nil
}

func (a *API) handleDeleteTenantDomain(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	host := strings.ToLower(r.PathValue("hostname"))
	if !validHostname(host) {
		return errNotFound("domain")
	}
	if err := a.store.DeleteDomain(r.Context(), t.ID, host); err != nil {
		return storeError(err, "domain")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) handleRotateTenantCookieKeys(w http.ResponseWriter, r *http.Request, _ principal) error {
	t, err := a.tenantFromPath(r)
	if err != nil {
		return err
	}
	keys, err := a.RotateCookieKeys(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cookie_keys": keys})
	return nil
}

// --- tenant handlers (tenant from the token) ---

func (a *API) ownTenant(r *http.Request, p principal) (store.Tenant, error) {
	t, err := a.store.GetTenant(r.Context(), p.tenantID)
	if err != nil {
		return store.Tenant{}, storeError(err, "tenant")
	}
	return t, nil
}

func (a *API) handleGetOwnTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := a.ownTenant(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantView(t))
	return nil
}

func (a *API) handlePatchOwnTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := a.ownTenant(r, p)
	if err != nil {
		return err
	}
	return a.patchTenant(w, r, t)
}

func (a *API) handleListOwnDomains(w http.ResponseWriter, r *http.Request, p principal) error {
	return a.listDomains(w, r, p.tenantID)
}

func (a *API) handleRotateOwnCookieKeys(w http.ResponseWriter, r *http.Request, p principal) error {
	keys, err := a.RotateCookieKeys(r.Context(), p.tenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cookie_keys": keys})
	return nil
}

// PathGrace is how long a rotated collect or consent path keeps working:
// pages that loaded the old loader keep posting to it meanwhile (the loader
// itself is cached for minutes, pages stay open for days).
const PathGrace = 7 * 24 * time.Hour

// RotatePaths gives the tenant new random collect and consent paths; the
// old ones stay served until now+PathGrace. The loader path is not rotated:
// tenants paste its URL once.
func (a *API) RotatePaths(ctx context.Context, tenantID string) (store.Tenant, error) {
	t, err := a.store.GetTenant(ctx, tenantID)
	if err != nil {
		return store.Tenant{}, storeError(err, "tenant")
	}
	now := a.now()
	s := t.Settings
	var keep []store.PreviousPath
	for _, p := range s.PreviousPaths {
		if p.Until.After(now) {
			keep = append(keep, p)
		}
	}
	view := tenantView(t).EdgePaths
	keep = append(keep,
		store.PreviousPath{Kind: tenant.KindCollect, Path: view.Collect, Until: now.Add(PathGrace).UTC()},
		store.PreviousPath{Kind: tenant.KindConsent, Path: view.Consent, Until: now.Add(PathGrace).UTC()},
	)
	s.PreviousPaths = keep
	s.CollectPath = tenant.GeneratePath(tenant.KindCollect)
	s.ConsentPath = tenant.GeneratePath(tenant.KindConsent)
	t, err = a.store.UpdateTenant(ctx, tenantID, store.TenantPatch{Settings: &s})
	if err != nil {
		return store.Tenant{}, storeError(err, "tenant")
	}
	return t, nil
}

func (a *API) handleRotateOwnPaths(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := a.RotatePaths(r.Context(), p.tenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tenantView(t))
	return nil
}
