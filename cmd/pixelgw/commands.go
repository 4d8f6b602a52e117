package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/store"
)

func cmdMigrate(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("migrate", stderr)
	cfg, err := loadFlags(fs, cfgPath, args, env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("cannot migrate: %w", err)
	}
	_, latest, err := st.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("cannot read schema version: %w", err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema is up to date (version %d)\n", latest)
		return nil
	}
	fmt.Fprintf(stdout, "applied migrations %v; schema version %d\n", applied, latest)
	return nil
}

func cmdCheckConfig(args, env []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("check-config", stderr)
	cfg, err := loadFlags(fs, cfgPath, args, env)
	if err != nil {
		return err
	}
	if _, err := newKeyring(cfg); err != nil {
		return err
	}
	out, err := yaml.Marshal(cfg.Redacted())
	if err != nil {
		return fmt.Errorf("cannot print config: %w", err)
	}
	fmt.Fprintf(stdout, "# configuration is valid; secrets redacted\n%s", out)
	return nil
}

func cmdToken(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("token", stderr)
	tenant := fs.String("tenant", "", "tenant slug or id (required unless -role operator)")
	role := fs.String("role", "admin", "admin, viewer or operator")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime (at most api.jwt.max_ttl)")
	kid := fs.String("kid", "", "HS256 key id to sign with (default: the first HS256 key)")
	cfg, err := loadFlags(fs, cfgPath, args, env)
	if err != nil {
		return err
	}
	switch *role {
	case "admin", "viewer", "operator":
	default:
		return fmt.Errorf("%w: -role must be admin, viewer or operator", errUsage)
	}
	if *ttl <= 0 || *ttl > cfg.API.JWT.MaxTTL {
		return fmt.Errorf("%w: -ttl must be in (0, %s] (api.jwt.max_ttl)", errUsage, cfg.API.JWT.MaxTTL)
	}
	if *tenant == "" && *role != "operator" {
		return fmt.Errorf("%w: -tenant is required for role %s", errUsage, *role)
	}
	key, err := hs256Key(cfg, *kid)
	if err != nil {
		return err
	}
	tenantID := ""
	if *tenant != "" {
		st, err := openChecked(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		t, err := findTenant(ctx, st, *tenant)
		if err != nil {
			return err
		}
		tenantID = t.ID
	}
	tok, err := issueToken(cfg.API.JWT, key, tenantID, *role, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func findTenant(ctx context.Context, st store.Tenants, ref string) (store.Tenant, error) {
	var t store.Tenant
	var err error
	if _, perr := uuid.Parse(ref); perr == nil {
		t, err = st.GetTenant(ctx, ref)
	} else {
		t, err = st.GetTenantBySlug(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Tenant{}, fmt.Errorf("no tenant %q", ref)
	}
	return t, err
}

func cmdRotateKey(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("rotate-key", stderr)
	cfg, err := loadFlags(fs, cfgPath, args, env)
	if err != nil {
		return err
	}
	kr, st, err := openKeyed(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.ResealAll(ctx, kr.Reseal)
	if err != nil {
		return fmt.Errorf("cannot re-encrypt secrets (nothing was changed): %w", err)
	}
	fmt.Fprintf(stdout, "re-encrypted %d secrets under key %q; previous keys can be removed from secrets.previous_keys\n", n, kr.ActiveKeyID())
	return nil
}

// Demo tenant, served by `make run` on t.demo.localhost and www.demo.localhost.
const (
	demoSlug       = "demo"
	demoEdgeHost   = "t.demo.localhost"
	demoSiteHost   = "www.demo.localhost"
	demoCookieHost = "demo.localhost"
)

func cmdSeedDemo(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("seed-demo", stderr)
	cfg, err := loadFlags(fs, cfgPath, args, env)
	if err != nil {
		return err
	}
	kr, st, err := openKeyed(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	api, err := admin.New(cfg.API, admin.Deps{Store: st, Keyring: kr, Logger: log})
	if err != nil {
		return err
	}
	created, err := seedDemo(ctx, st, api, log)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintln(stdout, "demo tenant created: edge http://t.demo.localhost:8080, site http://www.demo.localhost:8080")
	} else {
		fmt.Fprintln(stdout, "demo tenant already exists")
	}
	if key, err := hs256Key(cfg, ""); err == nil {
		t, err := st.GetTenantBySlug(ctx, demoSlug)
		if err != nil {
			return err
		}
		tok, err := issueToken(cfg.API.JWT, key, t.ID, admin.RoleAdmin, min(cfg.API.JWT.MaxTTL, 12*time.Hour))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo admin token (valid %s):\n  export PIXELGW_TOKEN=%s\n  curl -H \"Authorization: Bearer $PIXELGW_TOKEN\" http://%s/api/v1/tracking/pixels\n",
			min(cfg.API.JWT.MaxTTL, 12*time.Hour), tok, cfg.API.Listen)
	}
	return nil
}

// seedDemo creates the demo tenant with its two hostnames and one pixel per
// platform (placeholder credentials), through the admin API's own
// validation. It reports false when the tenant already exists.
func seedDemo(ctx context.Context, st store.Tenants, api *admin.API, log *slog.Logger) (bool, error) {
	if _, err := st.GetTenantBySlug(ctx, demoSlug); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	t, err := api.CreateTenant(ctx, admin.TenantInput{
		Slug: demoSlug,
		Name: "Demo Shop",
		Settings: store.TenantSettings{
			DefaultLanguage: "es",
			Languages:       []string{"es", "en", "pt"},
			PrivacyURL:      "http://" + demoSiteHost + ":8080/privacy",
			PolicyVersion:   "1",
			Sites:           []string{"http://" + demoSiteHost + ":8080"},
		},
	})
	if err != nil {
		return false, fmt.Errorf("cannot create demo tenant: %w", err)
	}
	for _, h := range []string{demoEdgeHost, demoSiteHost} {
		if _, err := api.AddDomain(ctx, t.ID, admin.DomainInput{Hostname: h, CookieDomain: demoCookieHost}); err != nil {
			return false, fmt.Errorf("cannot add demo domain %s: %w", h, err)
		}
	}
	domains := []string{demoSiteHost}
	pixels := []admin.PixelInput{
		{Platform: store.PlatformMeta, PixelID: "100000000000001", Credentials: map[string]string{"access_token": "demo-meta-access-token-not-real"}, TestEventCode: "TEST12345"},
		{Platform: store.PlatformGoogle, PixelID: "G-DEMO12345", Credentials: map[string]string{"api_secret": "demo-ga4-api-secret-not-real"}},
		{Platform: store.PlatformLinkedIn, PixelID: "1234567", Credentials: map[string]string{"access_token": "demo-linkedin-token-not-real"},
			EventMap: map[string]string{"lead": "urn:lla:llaPartnerConversion:1000001", "purchase": "urn:lla:llaPartnerConversion:1000002"}},
		{Platform: store.PlatformTikTok, PixelID: "CDEMO0000000000000AB", Credentials: map[string]string{"access_token": "demo-tiktok-token-not-real"}, TestEventCode: "TEST12345"},
		{Platform: store.PlatformX, PixelID: "o8z6j", Credentials: map[string]string{"pixel_token": "demo-x-pixel-token-not-real"},
			EventMap: map[string]string{"lead": "o87ne", "purchase": "o87nf", "add_to_cart": "o87ng"}},
	}
	for _, p := range pixels {
		p.Domains = domains
		if _, err := api.CreatePixel(ctx, t.ID, p); err != nil {
			return false, fmt.Errorf("cannot create demo %s pixel: %w", p.Platform, err)
		}
	}
	log.Info("demo tenant seeded", slog.String("tenant", t.ID))
	return true, nil
}

// issueToken signs a token with the configured issuer and audience.
func issueToken(jc admin.JWTConfig, key admin.JWTKey, tenantID, role string, ttl time.Duration) (string, error) {
	return admin.IssueToken(key, admin.Claims{
		TenantID: tenantID,
		Role:     role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:   jc.Issuer,
			Audience: jwt.ClaimStrings{jc.Audience},
		},
	}, ttl, time.Now())
}
