// Package store defines the persistence seams of pixelgw: tenants, tenant
// domains, tracking pixels, per-tenant cookie keys, the event audit, the
// append-only consent log and tenant API keys. It imports only the standard
// library; drivers live in sibling packages (storepg, storesqlite) and only
// cmd/pixelgw chooses one.
//
// Every tenant-scoped method takes the tenant id explicitly and filters by it:
// an object of another tenant is reported exactly like an absent one
// (ErrNotFound). Secrets arrive here already sealed (see store/secret); a
// store never sees plaintext credentials.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors callers match with errors.Is.
var (
	// ErrNotFound: no such object in this tenant (or at all).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule was violated (duplicate slug, hostname,
	// platform+pixel_id within a tenant, ...).
	ErrConflict = errors.New("conflict")
	// ErrSchemaOutdated: the database schema is older than this binary; run
	// `pixelgw migrate`.
	ErrSchemaOutdated = errors.New("database schema is outdated: run `pixelgw migrate`")
)

// Platform names as stored and as used in the API.
const (
	PlatformMeta     = "meta"
	PlatformGoogle   = "google"
	PlatformLinkedIn = "linkedin"
	PlatformTikTok   = "tiktok"
	PlatformX        = "twitter"
)

// Platforms lists every supported platform in a stable order.
func Platforms() []string {
	return []string{PlatformMeta, PlatformGoogle, PlatformLinkedIn, PlatformTikTok, PlatformX}
}

// Sealed is a secret encrypted with AES-256-GCM (store/secret). KeyID names
// the master key that sealed it so keys can rotate. The zero value means "no
// secret".
type Sealed struct {
	KeyID      string
	Ciphertext []byte
}

// IsZero reports whether no secret is stored.
func (s Sealed) IsZero() bool { return s.KeyID == "" && len(s.Ciphertext) == 0 }

// Tenant is one customer of the fleet.
type Tenant struct {
	ID        string // UUID
	Slug      string // unique, [a-z0-9-]{2,63}
	Name      string
	Settings  TenantSettings
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TenantSettings is the tenant's non-secret configuration, stored as one JSON
// document. Fields are added by later issues (banner, paths...); unknown
// fields in stored JSON are preserved by drivers only through this struct, so
// every field must be listed here.
type TenantSettings struct {
	// Banner and consent policy.
	DefaultLanguage string                       `json:"default_language,omitempty"` // es|en|pt
	Languages       []string                     `json:"languages,omitempty"`
	PrivacyURL      string                       `json:"privacy_url,omitempty"`
	PolicyVersion   string                       `json:"policy_version,omitempty"`
	BannerColors    map[string]string            `json:"banner_colors,omitempty"`
	BannerTexts     map[string]map[string]string `json:"banner_texts,omitempty"` // lang -> key -> text

	// Consent policy (package consent; proxy/tenant.PolicyOf). Absent
	// means the default: GPC honoured as a marketing opt-out, GA4 allowed
	// with analytics consent alone (ad signals DENIED), no legal basis for
	// server-side events without a consent record.
	HonorGPC         *bool `json:"honor_gpc,omitempty"`
	GA4AnalyticsOnly *bool `json:"ga4_analytics_only,omitempty"`
	ServerLegalBasis *bool `json:"server_legal_basis,omitempty"`

	// Edge paths (first-party, random-looking; see the edge issue).
	LoaderPath  string `json:"loader_path,omitempty"`
	CollectPath string `json:"collect_path,omitempty"`
	ConsentPath string `json:"consent_path,omitempty"`

	// PreviousPaths keep rotated edge paths working until their grace
	// period ends.
	PreviousPaths []PreviousPath `json:"previous_paths,omitempty"`

	// SPAHistory makes the loader send a page_view on every history change
	// (single-page applications).
	SPAHistory bool `json:"spa_history,omitempty"`
	// ReopenLink shows a small floating link that reopens the consent
	// banner (pages can also call pgw('consent','show')).
	ReopenLink bool `json:"reopen_link,omitempty"`

	// Sites are the tenant's own origins (https://www.tenant.com) allowed to
	// send beacons, in addition to each pixel's domains.
	Sites []string `json:"sites,omitempty"`

	// ForwardedHostCIDRs are the peers (the tenant's own reverse proxy) whose
	// X-Forwarded-Host is trusted for this tenant's hostnames (same-origin
	// mode). Empty: X-Forwarded-Host is ignored for this tenant.
	ForwardedHostCIDRs []string `json:"forwarded_host_cidrs,omitempty"`
	// SameOriginPrefix is the path prefix the tenant's proxy forwards in
	// same-origin mode (e.g. /m), stripped before routing.
	SameOriginPrefix string `json:"same_origin_prefix,omitempty"`
}

// PreviousPath is an edge path replaced by a rotation, still served until
// Until.
type PreviousPath struct {
	Kind  string    `json:"kind"` // loader|collect|consent
	Path  string    `json:"path"`
	Until time.Time `json:"until"`
}

// TenantDomain maps an exact hostname to a tenant.
type TenantDomain struct {
	Hostname     string // lowercase, no port, no trailing dot; unique fleet-wide
	TenantID     string
	CookieDomain string // registrable domain cookies are set on, e.g. tenant.com
	Verification string // pending|verified
	VerifyToken  string // value expected in the TXT record
	CreatedAt    time.Time
}

// Domain verification states.
const (
	VerificationPending  = "pending"
	VerificationVerified = "verified"
)

// Pixel is one tracking pixel (tracking_pixel) of a tenant on one platform.
type Pixel struct {
	ID                int64  // internal row id
	UUID              string // public id
	TenantID          string
	Platform          string            // one of Platforms()
	PixelID           string            // the platform's pixel / dataset / measurement id
	Credentials       Sealed            // sealed JSON object of secret fields (access_token, api_secret, ...)
	CredentialHints   map[string]string // field -> masked hint ("…abcd"), safe to show
	Extras            map[string]string // non-secret platform extras (e.g. ad_account_id)
	EventMap          map[string]string // internal event -> platform id (LinkedIn rule URN, X event tag id) or name override; "" = do not send
	IsActive          bool
	ServerSideEnabled bool
	ClientSideEnabled bool
	TestEventCode     string
	Domains           []string // authorized origins' hostnames
	Status            string   // health light: green|amber|red|unknown
	CreatedAt         time.Time
	UpdatedAt         time.Time

	// ConfirmBrowserConversions: deliver a browser-sourced conversion only
	// when a server copy confirms it within the merge window (migration 003).
	ConfirmBrowserConversions bool
}

// PixelPatch changes some fields of a pixel; nil means unchanged.
type PixelPatch struct {
	PixelID           *string
	Credentials       *Sealed
	CredentialHints   *map[string]string
	Extras            *map[string]string
	EventMap          *map[string]string
	IsActive          *bool
	ServerSideEnabled *bool
	ClientSideEnabled *bool
	TestEventCode     *string
	Domains           *[]string
	Status            *string

	ConfirmBrowserConversions *bool
}

// TenantPatch changes some fields of a tenant; nil means unchanged.
type TenantPatch struct {
	Name     *string
	Settings *TenantSettings
}

// CookieKey is one HMAC key a tenant's edge signs consent cookies with. The
// newest active key signs; every non-retired key verifies (rotation).
type CookieKey struct {
	TenantID  string
	KeyID     string // short random id carried in the cookie
	Secret    Sealed
	Active    bool // false once retired
	CreatedAt time.Time
}

// APIKey is a tenant API key for server-to-server calls. Only its SHA-256
// hash is stored; the plaintext is shown once at creation.
type APIKey struct {
	ID        string // UUID
	TenantID  string
	Name      string
	Prefix    string // public lookup part of the key, unique fleet-wide
	Hash      []byte // SHA-256 of the whole key
	Scopes    []string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Event sources.
const (
	SourceClient = "client"
	SourceServer = "server"
	SourceBoth   = "both"
)

// AuditEvent is one accepted event (tracking_event), written once.
type AuditEvent struct {
	TenantID        string
	EventID         string
	EventName       string // canonical internal name
	EventSource     string // client|server|both
	VisitorID       string // jaraba_visitor_id (or the server event's visitor); "" when none
	UserData        Sealed // hashed user data, encrypted at rest
	CustomData      []byte // JSON
	EventSourceURL  string
	ClientIP        string // purged after 30 days
	ClientUserAgent string
	FBC             string
	FBP             string
	GCLID           string
	CreatedAt       time.Time
}

// DeliveryOutcome is the result of delivering one event to one pixel,
// appended as deliveries finish (never an UPDATE of the event row).
type DeliveryOutcome struct {
	TenantID   string
	EventID    string
	PixelUUID  string
	Platform   string
	Status     string // delivered|retrying|failed|dead|skipped|merged|unconfirmed|erased
	Attempts   int
	ResponseID string // PlatformResponse.ID of the request that carried it, if any
	CreatedAt  time.Time
	// Source is the source of the copy the outcome is about: the sent
	// event's (both once merged), a merge entry's own for "merged"; "" on
	// rows written before migration 003.
	Source string
	// Test: the pixel had a test_event_code when the outcome was written
	// (debug mode: the platform's test tools got it).
	Test bool
	// EventName is the event's canonical name, for the live stream only:
	// not stored (the audit row has it), "" when read back.
	EventName string
}

// PlatformResponse is the platform's answer to one request, stored once and
// referenced by the outcomes of the events it carried.
type PlatformResponse struct {
	ID         string // UUID
	TenantID   string
	PixelUUID  string
	Platform   string
	HTTPStatus int
	Body       []byte // truncated by the caller; never contains secrets
	CreatedAt  time.Time
}

// RecentEvent is an audit event with its outcomes, for the debug view.
type RecentEvent struct {
	Event    AuditEvent
	Outcomes []DeliveryOutcome
	// Responses are the platform answers the outcomes reference, by
	// PlatformResponse.ID.
	Responses map[string]PlatformResponse
}

// ConsentRecord is one consent decision (consent_record). Append-only: a
// change or a revocation is a new row.
type ConsentRecord struct {
	ID            string // UUID
	TenantID      string
	VisitorID     string
	Analytics     bool
	Marketing     bool
	Functional    bool
	PolicyVersion string
	Source        string // banner|api
	CreatedAt     time.Time
}

// Consent sources.
const (
	ConsentSourceBanner = "banner"
	ConsentSourceAPI    = "api"
)

// Tenants stores tenants.
type Tenants interface {
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error) // ErrConflict on duplicate slug
	GetTenant(ctx context.Context, id string) (Tenant, error)
	GetTenantBySlug(ctx context.Context, slug string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
	UpdateTenant(ctx context.Context, id string, p TenantPatch) (Tenant, error)
	// DeleteTenant removes the tenant and everything it owns.
	DeleteTenant(ctx context.Context, id string) error
}

// Domains stores tenant hostnames.
type Domains interface {
	AddDomain(ctx context.Context, d TenantDomain) (TenantDomain, error) // ErrConflict if the hostname is taken (by any tenant)
	ListDomains(ctx context.Context, tenantID string) ([]TenantDomain, error)
	// AllDomains lists every domain of every tenant (edge routing snapshot).
	AllDomains(ctx context.Context) ([]TenantDomain, error)
	SetDomainVerification(ctx context.Context, tenantID, hostname, state string) error
	DeleteDomain(ctx context.Context, tenantID, hostname string) error
}

// Pixels stores tracking pixels.
type Pixels interface {
	// CreatePixel stores p; ErrConflict if the tenant already has a pixel
	// with the same platform and pixel_id.
	CreatePixel(ctx context.Context, p Pixel) (Pixel, error)
	GetPixel(ctx context.Context, tenantID, uuid string) (Pixel, error)
	ListPixels(ctx context.Context, tenantID string) ([]Pixel, error)
	// AllActivePixels lists active pixels of every tenant (delivery snapshot).
	AllActivePixels(ctx context.Context) ([]Pixel, error)
	UpdatePixel(ctx context.Context, tenantID, uuid string, p PixelPatch) (Pixel, error)
	DeletePixel(ctx context.Context, tenantID, uuid string) error
}

// CookieKeys stores per-tenant consent-cookie signing keys.
type CookieKeys interface {
	AddCookieKey(ctx context.Context, k CookieKey) error                      // ErrConflict on duplicate (tenant, key id)
	ListCookieKeys(ctx context.Context, tenantID string) ([]CookieKey, error) // newest first
	// AllCookieKeys lists the non-retired keys of every tenant (edge snapshot).
	AllCookieKeys(ctx context.Context) ([]CookieKey, error)
	RetireCookieKey(ctx context.Context, tenantID, keyID string) error
}

// APIKeys stores tenant API keys.
type APIKeys interface {
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// APIKeyByPrefix finds a key by its public prefix, in any tenant; revoked
	// keys are returned too (the caller checks RevokedAt).
	APIKeyByPrefix(ctx context.Context, prefix string) (APIKey, error)
	RevokeAPIKey(ctx context.Context, tenantID, id string) error
}

// Audit is the append-only event audit. Writes are batched: one call per
// batch, never one statement per event.
type Audit interface {
	AppendEvents(ctx context.Context, evs []AuditEvent) error
	AppendOutcomes(ctx context.Context, outs []DeliveryOutcome) error
	AppendResponses(ctx context.Context, rs []PlatformResponse) error
	// RecentEvents returns the tenant's newest events (newest first) with
	// their outcomes, at most limit.
	RecentEvents(ctx context.Context, tenantID string, limit int) ([]RecentEvent, error)
	// PurgeClientIPs removes client IPs of events created before t.
	PurgeClientIPs(ctx context.Context, before time.Time) (int64, error)
}

// Consents is the append-only consent log.
type Consents interface {
	// AppendConsent stores a decision; ip (may be empty) goes to a separate
	// table keyed by the record.
	AppendConsent(ctx context.Context, r ConsentRecord, ip string) (ConsentRecord, error)
	// LatestConsent is the visitor's current state; ErrNotFound if none.
	LatestConsent(ctx context.Context, tenantID, visitorID string) (ConsentRecord, error)
	// ConsentHistory lists every decision of the visitor, oldest first.
	ConsentHistory(ctx context.Context, tenantID, visitorID string) ([]ConsentRecord, error)
	// PurgeConsentIPs removes IPs of records created before t.
	PurgeConsentIPs(ctx context.Context, before time.Time) (int64, error)
}

// Erasure counts what EraseVisitor removed.
type Erasure struct {
	ConsentIPs int64 // consent_ip rows deleted (the decisions themselves stay: proof)
	Events     int64 // audit events whose personal data was cleared
}

// Eraser implements the right to erasure for one visitor of one tenant.
type Eraser interface {
	// EraseVisitor deletes the IPs of the visitor's consent records and
	// clears the personal data of the visitor's audit events (user data,
	// IP, user agent, fbc, fbp, gclid), keeping event id, name and time for
	// the aggregate numbers. Idempotent; other tenants are never touched.
	EraseVisitor(ctx context.Context, tenantID, visitorID string) (Erasure, error)
}

// Secrets lets `pixelgw rotate-key` re-encrypt every sealed value.
type Secrets interface {
	// ResealAll calls fn for every sealed value (pixel credentials, cookie
	// keys, audit user data) and stores what it returns, all in one
	// transaction: either every value is resealed or none is. It returns how
	// many values were rewritten.
	ResealAll(ctx context.Context, fn func(Sealed) (Sealed, error)) (int, error)
}

// Store is everything a driver provides.
type Store interface {
	Tenants
	Domains
	Pixels
	CookieKeys
	APIKeys
	Audit
	Consents
	Eraser
	Secrets
	Stats

	// ConfigVersion is a counter bumped by every write to tenants, domains,
	// pixels and cookie keys; edges poll it to reload their snapshot.
	ConfigVersion(ctx context.Context) (int64, error)
	// CheckSchema returns ErrSchemaOutdated (wrapped) if migrations are
	// pending.
	CheckSchema(ctx context.Context) error
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Migrator applies the embedded, numbered migrations.
type Migrator interface {
	// Migrate applies pending migrations and returns the versions applied.
	Migrate(ctx context.Context) ([]int, error)
	// SchemaVersion returns the applied and the latest known version.
	SchemaVersion(ctx context.Context) (applied, latest int, err error)
}
