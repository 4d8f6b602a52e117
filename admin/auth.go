package admin

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/store"
)

// Roles a token may carry.
const (
	// RoleAdmin reads and writes its own tenant.
	RoleAdmin = "admin"
	// RoleViewer reads its own tenant.
	RoleViewer = "viewer"
	// RoleOperator manages tenants across the fleet (operator routes).
	RoleOperator = "operator"
)

// Claims are the claims of an admin API token.
type Claims struct {
	// TenantID is the tenant UUID the token acts for; empty for a fleet
	// operator token.
	TenantID string `json:"tenant_id,omitempty"`
	Role     string `json:"role"`
	jwt.RegisteredClaims
}

// principal is the authenticated caller of one request.
type principal struct {
	tenantID string
	role     string
	// expires is when a JWT stops being accepted (its exp plus
	// api.jwt.leeway); zero for an API key. The live stream ends then.
	expires time.Time
}

// authenticator verifies bearer tokens. Immutable after construction.
type authenticator struct {
	cfg  JWTConfig
	keys map[string]verifier // by kid
}

type verifier struct {
	key    any
	parser *jwt.Parser
}

func newAuthenticator(cfg JWTConfig, now func() time.Time) (*authenticator, error) {
	a := &authenticator{cfg: cfg, keys: make(map[string]verifier, len(cfg.Keys))}
	for i, k := range cfg.Keys {
		key, err := k.VerificationKey()
		if err != nil {
			return nil, fmt.Errorf("api.jwt.keys[%d]: %w", i, err)
		}
		a.keys[k.KID] = verifier{
			key: key,
			parser: jwt.NewParser(
				jwt.WithValidMethods([]string{k.Alg}),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
				jwt.WithIssuer(cfg.Issuer),
				jwt.WithAudience(cfg.Audience),
				jwt.WithLeeway(cfg.Leeway),
				jwt.WithTimeFunc(now),
				jwt.WithStrictDecoding(),
			),
		}
	}
	return a, nil
}

// unauthorized is the 401 for a token that does not verify; the message
// never contains the token.
func unauthorized(msg string) *httpError {
	return errf(http.StatusUnauthorized, codeUnauthorized, "%s", msg)
}

// authenticate verifies the request's bearer token.
func (a *authenticator) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		return principal{}, unauthorized("missing bearer token")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return principal{}, unauthorized("authorization must be a bearer token")
	}
	tok = strings.TrimSpace(tok)

	// Read the kid without trusting anything else in the token yet.
	unverified, _, err := jwt.NewParser().ParseUnverified(tok, &Claims{})
	if err != nil {
		return principal{}, unauthorized("malformed token")
	}
	kid, _ := unverified.Header["kid"].(string)
	if kid == "" {
		return principal{}, unauthorized("token has no kid")
	}
	v, ok := a.keys[kid]
	if !ok {
		return principal{}, unauthorized("token signed with an unknown key")
	}
	var c Claims
	_, err = v.parser.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		if k, _ := t.Header["kid"].(string); k != kid {
			return nil, errors.New("kid changed")
		}
		return v.key, nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return principal{}, unauthorized("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return principal{}, unauthorized("token not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return principal{}, unauthorized("token audience not accepted")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return principal{}, unauthorized("token issuer not accepted")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// exp and aud are the required claims.
		if c.ExpiresAt == nil {
			return principal{}, unauthorized("token lacks exp")
		}
		return principal{}, unauthorized("token audience not accepted")
	default:
		return principal{}, unauthorized("invalid token")
	}
	if c.IssuedAt == nil {
		return principal{}, unauthorized("token lacks iat")
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > a.cfg.MaxTTL {
		return principal{}, unauthorized("token lifetime exceeds the maximum")
	}
	switch c.Role {
	case RoleAdmin, RoleViewer:
		if c.TenantID == "" {
			return principal{}, unauthorized("token lacks tenant_id")
		}
	case RoleOperator:
	default:
		return principal{}, unauthorized("token role not accepted")
	}
	if c.TenantID != "" {
		u, err := uuid.Parse(c.TenantID)
		if err != nil || len(c.TenantID) != 36 {
			return principal{}, unauthorized("token tenant_id is not a UUID")
		}
		c.TenantID = u.String()
	}
	return principal{tenantID: c.TenantID, role: c.Role, expires: c.ExpiresAt.Add(a.cfg.Leeway)}, nil
}

// IssueToken signs a token for claims with an HS256 key (`pixelgw token`).
// claims.Issuer and claims.Audience must be set (to api.jwt.issuer and
// api.jwt.audience); IssueToken sets iat, nbf and exp (now + ttl). The
// caller keeps ttl within api.jwt.max_ttl, or the API refuses the token.
func IssueToken(key JWTKey, claims Claims, ttl time.Duration, now time.Time) (string, error) {
	if key.Alg != "HS256" {
		return "", fmt.Errorf("cannot issue token: key %q has alg %s, only HS256 keys can sign", key.KID, key.Alg)
	}
	if key.KID == "" {
		return "", errors.New("cannot issue token: key has no kid")
	}
	if ttl <= 0 {
		return "", errors.New("cannot issue token: ttl must be positive")
	}
	if claims.Issuer == "" || len(claims.Audience) == 0 {
		return "", errors.New("cannot issue token: issuer and audience are required")
	}
	switch claims.Role {
	case RoleAdmin, RoleViewer, RoleOperator:
	default:
		return "", fmt.Errorf("cannot issue token: role %q is not admin, viewer or operator", claims.Role)
	}
	if claims.Role != RoleOperator && claims.TenantID == "" {
		return "", fmt.Errorf("cannot issue token: role %s needs a tenant id", claims.Role)
	}
	if claims.TenantID != "" {
		if _, err := uuid.Parse(claims.TenantID); err != nil {
			return "", errors.New("cannot issue token: tenant id is not a UUID")
		}
	}
	secret, err := key.VerificationKey()
	if err != nil {
		return "", fmt.Errorf("cannot issue token: key %q: %w", key.KID, err)
	}
	now = now.Truncate(time.Second)
	claims.IssuedAt = jwt.NewNumericDate(now)
	claims.NotBefore = jwt.NewNumericDate(now)
	claims.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = key.KID
	s, err := t.SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("cannot sign token: %w", err)
	}
	return s, nil
}

// roleAPIKey is the role of a principal authenticated by an API key.
const roleAPIKey = "api_key"

// apiKeyCredential returns the API key a request presents (X-API-Key, or
// an Authorization bearer value starting with pgw_), and whether it
// presents one. Both headers at once is a 401.
func apiKeyCredential(r *http.Request) (string, bool, error) {
	h := r.Header.Get("Authorization")
	if k := r.Header.Get("X-API-Key"); k != "" {
		if h != "" {
			return "", false, unauthorized("send either X-API-Key or Authorization, not both")
		}
		return strings.TrimSpace(k), true, nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if ok && strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(tok, "pgw_") {
		return tok, true, nil
	}
	return "", false, nil
}

// authenticateAPIKey checks a tenant API key: well formed, known, hash
// equal, not revoked, scope events:write, tenant present. The principal's
// tenant is the key's.
func (a *API) authenticateAPIKey(r *http.Request, key string) (principal, error) {
	prefix, ok := APIKeyPrefix(key)
	if !ok {
		return principal{}, unauthorized("malformed api key")
	}
	k, err := a.store.APIKeyByPrefix(r.Context(), prefix)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return principal{}, unauthorized("invalid api key")
		}
		return principal{}, fmt.Errorf("cannot look up api key: %w", err)
	}
	if subtle.ConstantTimeCompare(k.Hash, HashAPIKey(key)) != 1 {
		return principal{}, unauthorized("invalid api key")
	}
	if k.RevokedAt != nil {
		return principal{}, unauthorized("api key revoked")
	}
	scoped := false
	for _, s := range k.Scopes {
		scoped = scoped || s == ScopeEventsWrite
	}
	if !scoped {
		return principal{}, errf(http.StatusForbidden, codeForbidden, "the api key lacks scope %s", ScopeEventsWrite)
	}
	if _, err := a.store.GetTenant(r.Context(), k.TenantID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return principal{}, errf(http.StatusForbidden, codeForbidden, "the api key's tenant does not exist")
		}
		return principal{}, err
	}
	return principal{tenantID: k.TenantID, role: roleAPIKey}, nil
}
