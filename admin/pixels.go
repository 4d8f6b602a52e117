package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/secret"
)

// PixelInput creates a pixel. Secret fields go in Credentials only; they
// are sealed and never returned (responses carry credential_hints).
type PixelInput struct {
	Platform          string            `json:"platform"`
	PixelID           string            `json:"pixel_id"`
	Credentials       map[string]string `json:"credentials"`
	Extras            map[string]string `json:"extras"`
	EventMap          map[string]string `json:"event_map"`
	IsActive          *bool             `json:"is_active"`           // default true
	ServerSideEnabled *bool             `json:"server_side_enabled"` // default true
	ClientSideEnabled *bool             `json:"client_side_enabled"` // default true, false for google (never both with server_side_enabled there)
	TestEventCode     string            `json:"test_event_code"`
	Domains           []string          `json:"domains"`
	// ConfirmBrowserConversions: send browser-sourced conversions only when
	// a server copy confirms them within the merge window (default false).
	ConfirmBrowserConversions bool `json:"confirm_browser_conversions"`
}

// PixelView is a pixel as the API shows it: no secret, only hints.
type PixelView struct {
	UUID              string            `json:"uuid"`
	Platform          string            `json:"platform"`
	PixelID           string            `json:"pixel_id"`
	CredentialHints   map[string]string `json:"credential_hints"`
	Extras            map[string]string `json:"extras"`
	EventMap          map[string]string `json:"event_map"`
	IsActive          bool              `json:"is_active"`
	ServerSideEnabled bool              `json:"server_side_enabled"`
	ClientSideEnabled bool              `json:"client_side_enabled"`
	TestEventCode     string            `json:"test_event_code"`
	Domains           []string          `json:"domains"`
	Status            string            `json:"status"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`

	ConfirmBrowserConversions bool `json:"confirm_browser_conversions"`
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func pixelView(p store.Pixel) PixelView {
	d := p.Domains
	if d == nil {
		d = []string{}
	}
	return PixelView{
		UUID: p.UUID, Platform: p.Platform, PixelID: p.PixelID,
		CredentialHints: nonNilMap(p.CredentialHints), Extras: nonNilMap(p.Extras), EventMap: nonNilMap(p.EventMap),
		IsActive: p.IsActive, ServerSideEnabled: p.ServerSideEnabled, ClientSideEnabled: p.ClientSideEnabled,
		TestEventCode: p.TestEventCode, Domains: d, Status: p.Status,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		ConfirmBrowserConversions: p.ConfirmBrowserConversions,
	}
}

// platformSpec is what one platform requires of a pixel.
type platformSpec struct {
	pixelID     *regexp.Regexp
	pixelIDHint string
	// credentials checks the set of credential fields (names and presence).
	credentials func(c map[string]string) error
	extras      map[string]*regexp.Regexp // allowed extras and their format
	// eventValue is the format of a non-empty event_map value.
	eventValue     *regexp.Regexp
	eventValueHint string
	// eventMapRequired: the platform needs one id per event (LinkedIn, X).
	eventMapRequired bool
}

var (
	eventKeyRe   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	eventNameRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,49}$`)
	ga4NameRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)
	testCodeRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	digitsRe     = regexp.MustCompile(`^[0-9]{1,20}$`)
	xPixelIDRe   = regexp.MustCompile(`^[a-z0-9]{4,12}$`)
	ga4Reserved  = []string{"ad_activeview", "ad_click", "ad_exposure", "ad_query", "adunit_exposure", "app_clear_data", "app_install", "app_remove", "app_update", "error", "first_open", "first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground", "notification_open", "notification_receive", "os_update", "screen_view", "session_start", "user_engagement"}
	credentialKV = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// requireCreds builds a credentials check: every name in required must be
// present, names outside required+optional are refused.
func requireCreds(required []string, optional ...string) func(map[string]string) error {
	return func(c map[string]string) error {
		for _, k := range sortedKeys(c) {
			if !slices.Contains(required, k) && !slices.Contains(optional, k) {
				return fieldError("credentials."+k, "not a credential of this platform (allowed: %s)", strings.Join(append(slices.Clone(required), optional...), ", "))
			}
		}
		for _, k := range required {
			if c[k] == "" {
				return fieldError("credentials."+k, "required")
			}
		}
		return nil
	}
}

// xCreds: either an OAuth 1.0a user context (four values) or a pixel token.
func xCreds(c map[string]string) error {
	oauth := []string{"consumer_key", "consumer_secret", "access_token", "access_token_secret"}
	for _, k := range sortedKeys(c) {
		if !slices.Contains(oauth, k) && k != "pixel_token" {
			return fieldError("credentials."+k, "not a credential of this platform (allowed: %s, or pixel_token)", strings.Join(oauth, ", "))
		}
	}
	if c["pixel_token"] != "" {
		for _, k := range oauth {
			if _, ok := c[k]; ok {
				return fieldError("credentials."+k, "give either pixel_token or the OAuth 1.0a keys, not both")
			}
		}
		return nil
	}
	for _, k := range oauth {
		if c[k] == "" {
			return fieldError("credentials."+k, "required (or give pixel_token instead of the OAuth 1.0a keys)")
		}
	}
	return nil
}

func platformSpecs() map[string]platformSpec {
	return map[string]platformSpec{
		store.PlatformMeta: {
			pixelID: regexp.MustCompile(`^[0-9]{5,20}$`), pixelIDHint: "a Meta pixel / dataset id (5-20 digits)",
			credentials: requireCreds([]string{"access_token"}, "app_secret"),
			eventValue:  eventNameRe, eventValueHint: "an event name like Purchase",
		},
		store.PlatformGoogle: {
			pixelID: regexp.MustCompile(`^G-[A-Z0-9]{4,20}$`), pixelIDHint: "a GA4 measurement id like G-ABC123XYZ",
			credentials: requireCreds([]string{"api_secret"}),
			eventValue:  ga4NameRe, eventValueHint: "a GA4 event name like purchase (letters, digits, _; at most 40)",
		},
		store.PlatformLinkedIn: {
			pixelID: regexp.MustCompile(`^[0-9]{3,20}$`), pixelIDHint: "a LinkedIn Insight Tag partner id (digits)",
			credentials:      requireCreds([]string{"access_token"}),
			extras:           map[string]*regexp.Regexp{"ad_account_id": digitsRe},
			eventValue:       regexp.MustCompile(`^urn:lla:llaPartnerConversion:[0-9]{1,20}$`),
			eventValueHint:   "a conversion rule URN like urn:lla:llaPartnerConversion:123456",
			eventMapRequired: true,
		},
		store.PlatformTikTok: {
			pixelID: regexp.MustCompile(`^[A-Z0-9]{15,30}$`), pixelIDHint: "a TikTok pixel code (15-30 uppercase letters and digits)",
			credentials: requireCreds([]string{"access_token"}),
			eventValue:  eventNameRe, eventValueHint: "an event name like Purchase",
		},
		store.PlatformX: {
			pixelID: xPixelIDRe, pixelIDHint: "an X pixel (base tag) id like o8z6j",
			credentials:      xCreds,
			eventValue:       regexp.MustCompile(`^([a-z0-9]{4,12}|tw-[a-z0-9]{4,12}-[a-z0-9]{4,12})$`),
			eventValueHint:   "an X event tag id like o87ne or tw-o8z6j-o87ne",
			eventMapRequired: true,
		},
	}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// validatePixel checks a complete pixel (after defaults or a patch) against
// its platform's rules. creds is the plaintext credential set.
func validatePixel(p store.Pixel, creds map[string]string) error {
	spec, ok := platformSpecs()[p.Platform]
	if !ok {
		return fieldError("platform", "must be one of %s", strings.Join(store.Platforms(), ", "))
	}
	if p.PixelID == "" {
		return fieldError("pixel_id", "required (%s)", spec.pixelIDHint)
	}
	if !spec.pixelID.MatchString(p.PixelID) {
		return fieldError("pixel_id", "must be %s", spec.pixelIDHint)
	}
	if len(creds) > 8 {
		return fieldError("credentials", "at most 8 fields")
	}
	for _, k := range sortedKeys(creds) {
		if !credentialKV.MatchString(k) {
			return fieldError("credentials", "field names must match [a-z][a-z0-9_]{0,31}")
		}
		// The message never contains the value.
		if err := checkText("credentials."+k, creds[k], true, 4096); err != nil {
			return err
		}
	}
	if err := spec.credentials(creds); err != nil {
		return err
	}
	for _, k := range sortedKeys(p.Extras) {
		re, ok := spec.extras[k]
		if !ok {
			return fieldError("extras."+k, "not an extra of platform %s", p.Platform)
		}
		if !re.MatchString(p.Extras[k]) {
			return fieldError("extras."+k, "invalid format")
		}
	}
	if len(p.EventMap) > 64 {
		return fieldError("event_map", "at most 64 events")
	}
	mapped := 0
	for _, k := range sortedKeys(p.EventMap) {
		if !eventKeyRe.MatchString(k) {
			return fieldError("event_map", "event %q must match [a-z][a-z0-9_]{0,39}", k)
		}
		v := p.EventMap[k]
		if v == "" {
			continue // do not send this event
		}
		if !spec.eventValue.MatchString(v) {
			return fieldError("event_map."+k, "must be %s, or \"\" to not send it", spec.eventValueHint)
		}
		if p.Platform == store.PlatformGoogle && (slices.Contains(ga4Reserved, v) || strings.HasPrefix(v, "ga_") || strings.HasPrefix(v, "google_") || strings.HasPrefix(v, "firebase_")) {
			return fieldError("event_map."+k, "%q is a reserved GA4 event name", v)
		}
		mapped++
	}
	if spec.eventMapRequired && mapped == 0 {
		return fieldError("event_map", "required for %s: map each event to %s", p.Platform, spec.eventValueHint)
	}
	if p.Platform == store.PlatformGoogle && p.ClientSideEnabled && p.ServerSideEnabled {
		return fieldError("client_side_enabled", "a google pixel is client-side or server-side, never both: GA4 does not deduplicate the browser copy against the server one (set client_side_enabled or server_side_enabled to false)")
	}
	if p.TestEventCode != "" && !testCodeRe.MatchString(p.TestEventCode) {
		return fieldError("test_event_code", "must be 1-64 of [A-Za-z0-9_-]")
	}
	if len(p.Domains) > 100 {
		return fieldError("domains", "at most 100 hostnames")
	}
	seen := map[string]bool{}
	for i, d := range p.Domains {
		f := "domains[" + strconv.Itoa(i) + "]"
		if !validHostname(d) {
			return fieldError(f, "must be a lowercase hostname like www.example.com (no scheme, port or path)")
		}
		if seen[d] {
			return fieldError(f, "duplicate hostname %q", d)
		}
		seen[d] = true
	}
	return nil
}

func hints(creds map[string]string) map[string]string {
	h := make(map[string]string, len(creds))
	for k, v := range creds {
		h[k] = secret.Mask(v)
	}
	return h
}

func (a *API) sealCreds(creds map[string]string) (store.Sealed, error) {
	if len(creds) == 0 {
		return store.Sealed{}, nil
	}
	b, err := json.Marshal(creds)
	if err != nil {
		return store.Sealed{}, fmt.Errorf("cannot encode credentials: %w", err)
	}
	s, err := a.keyring.Seal(b)
	clear(b)
	if err != nil {
		return store.Sealed{}, fmt.Errorf("cannot seal credentials: %w", err)
	}
	return s, nil
}

func (a *API) openCreds(s store.Sealed) (map[string]string, error) {
	b, err := a.keyring.Open(s)
	if err != nil {
		return nil, fmt.Errorf("cannot open pixel credentials: %w", err)
	}
	c := map[string]string{}
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, errors.New("cannot decode pixel credentials")
	}
	return c, nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// CreatePixel validates in and stores a pixel for the tenant. Errors match
// ErrValidation (bad input), store.ErrConflict (the tenant already has a
// pixel with this platform and pixel_id) or store.ErrNotFound (no tenant).
func (a *API) CreatePixel(ctx context.Context, tenantID string, in PixelInput) (PixelView, error) {
	if in.Platform == "" {
		return PixelView{}, fieldError("platform", "required (one of %s)", strings.Join(store.Platforms(), ", "))
	}
	now := a.now().UTC()
	p := store.Pixel{
		UUID: uuid.NewString(), TenantID: tenantID, Platform: in.Platform, PixelID: in.PixelID,
		Extras: nonNilMap(in.Extras), EventMap: nonNilMap(in.EventMap),
		IsActive:          boolOr(in.IsActive, true),
		ServerSideEnabled: boolOr(in.ServerSideEnabled, true),
		// GA4 does not deduplicate: a google pixel is server-side unless told
		ClientSideEnabled: boolOr(in.ClientSideEnabled, in.Platform != store.PlatformGoogle),
		TestEventCode:     in.TestEventCode, Domains: in.Domains, Status: "unknown",
		CreatedAt: now, UpdatedAt: now,
		ConfirmBrowserConversions: in.ConfirmBrowserConversions,
	}
	if p.Domains == nil {
		p.Domains = []string{}
	}
	creds := nonNilMap(in.Credentials)
	if err := validatePixel(p, creds); err != nil {
		return PixelView{}, err
	}
	if _, err := a.store.GetTenant(ctx, tenantID); err != nil {
		return PixelView{}, storeError(err, "tenant")
	}
	sealed, err := a.sealCreds(creds)
	if err != nil {
		return PixelView{}, err
	}
	p.Credentials = sealed
	p.CredentialHints = hints(creds)
	out, err := a.store.CreatePixel(ctx, p)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return PixelView{}, errf(http.StatusConflict, codeConflict, "a %s pixel with pixel_id %q already exists", p.Platform, p.PixelID)
		}
		return PixelView{}, fmt.Errorf("cannot create pixel: %w", err)
	}
	return pixelView(out), nil
}

// pixelPatchInput is the body of PATCH /tracking/pixels/{uuid}. Fields
// absent are unchanged. credentials merges by field: a string sets it, null
// removes it. extras and event_map replace the stored maps when present.
type pixelPatchInput struct {
	Platform          *string            `json:"platform"`
	PixelID           *string            `json:"pixel_id"`
	Credentials       map[string]*string `json:"credentials"`
	Extras            *map[string]string `json:"extras"`
	EventMap          *map[string]string `json:"event_map"`
	IsActive          *bool              `json:"is_active"`
	ServerSideEnabled *bool              `json:"server_side_enabled"`
	ClientSideEnabled *bool              `json:"client_side_enabled"`
	TestEventCode     *string            `json:"test_event_code"`
	Domains           *[]string          `json:"domains"`

	ConfirmBrowserConversions *bool `json:"confirm_browser_conversions"`
}

// UpdatePixel applies a patch after validating the whole resulting pixel.
func (a *API) updatePixel(ctx context.Context, tenantID, id string, in pixelPatchInput) (PixelView, error) {
	cur, err := a.store.GetPixel(ctx, tenantID, id)
	if err != nil {
		return PixelView{}, storeError(err, "pixel")
	}
	if in.Platform != nil && *in.Platform != cur.Platform {
		return PixelView{}, fieldError("platform", "cannot be changed; create a new pixel")
	}
	next := cur
	var patch store.PixelPatch
	if in.PixelID != nil {
		next.PixelID, patch.PixelID = *in.PixelID, in.PixelID
	}
	if in.Extras != nil {
		m := nonNilMap(*in.Extras)
		next.Extras, patch.Extras = m, &m
	}
	if in.EventMap != nil {
		m := nonNilMap(*in.EventMap)
		next.EventMap, patch.EventMap = m, &m
	}
	if in.IsActive != nil {
		patch.IsActive = in.IsActive
	}
	if in.ServerSideEnabled != nil {
		next.ServerSideEnabled, patch.ServerSideEnabled = *in.ServerSideEnabled, in.ServerSideEnabled
	}
	if in.ClientSideEnabled != nil {
		next.ClientSideEnabled, patch.ClientSideEnabled = *in.ClientSideEnabled, in.ClientSideEnabled
	}
	if in.TestEventCode != nil {
		next.TestEventCode, patch.TestEventCode = *in.TestEventCode, in.TestEventCode
	}
	if in.ConfirmBrowserConversions != nil {
		patch.ConfirmBrowserConversions = in.ConfirmBrowserConversions
	}
	if in.Domains != nil {
		d := *in.Domains
		if d == nil {
			d = []string{}
		}
		next.Domains, patch.Domains = d, &d
	}
	creds, err := a.openCreds(cur.Credentials)
	if err != nil {
		return PixelView{}, err
	}
	for k, v := range in.Credentials {
		if v == nil {
			delete(creds, k)
		} else {
			creds[k] = *v
		}
	}
	if err := validatePixel(next, creds); err != nil {
		return PixelView{}, err
	}
	if in.Credentials != nil {
		sealed, err := a.sealCreds(creds)
		if err != nil {
			return PixelView{}, err
		}
		h := hints(creds)
		patch.Credentials, patch.CredentialHints = &sealed, &h
	}
	out, err := a.store.UpdatePixel(ctx, tenantID, id, patch)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return PixelView{}, errf(http.StatusConflict, codeConflict, "a %s pixel with pixel_id %q already exists", next.Platform, next.PixelID)
		}
		return PixelView{}, storeError(err, "pixel")
	}
	return pixelView(out), nil
}

// --- handlers ---

func (a *API) handleListPixels(w http.ResponseWriter, r *http.Request, p principal) error {
	ps, err := a.store.ListPixels(r.Context(), p.tenantID)
	if err != nil {
		return fmt.Errorf("cannot list pixels: %w", err)
	}
	out := make([]PixelView, 0, len(ps))
	for _, px := range ps {
		out = append(out, pixelView(px))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pixels": out})
	return nil
}

func (a *API) handleCreatePixel(w http.ResponseWriter, r *http.Request, p principal) error {
	var in PixelInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	v, err := a.CreatePixel(r.Context(), p.tenantID, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tracking/pixels/"+v.UUID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) handleGetPixel(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := parseUUID(r.PathValue("uuid"), "pixel")
	if err != nil {
		return err
	}
	px, err := a.store.GetPixel(r.Context(), p.tenantID, id)
	if err != nil {
		return storeError(err, "pixel")
	}
	writeJSON(w, http.StatusOK, pixelView(px))
	return nil
}

func (a *API) handlePatchPixel(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := parseUUID(r.PathValue("uuid"), "pixel")
	if err != nil {
		return err
	}
	var in pixelPatchInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	v, err := a.updatePixel(r.Context(), p.tenantID, id, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) handleDeletePixel(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := parseUUID(r.PathValue("uuid"), "pixel")
	if err != nil {
		return err
	}
	if err := a.store.DeletePixel(r.Context(), p.tenantID, id); err != nil {
		return storeError(err, "pixel")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
