package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/store"
)

// ScopeEventsWrite lets an API key send server-side events.
const ScopeEventsWrite = "events:write"

// apiKeyRe is the shape of an API key: pgw_<12 hex prefix>_<43 base64url>.
var apiKeyRe = regexp.MustCompile(`^pgw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$`)

// APIKeyPrefix returns the public lookup prefix of an API key presented by
// a client (for store.APIKeys.APIKeyByPrefix), and whether it is well formed.
func APIKeyPrefix(key string) (string, bool) {
	m := apiKeyRe.FindStringSubmatch(key)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// HashAPIKey is the stored hash of an API key (SHA-256 of the whole key);
// compare with crypto/subtle.ConstantTimeCompare.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// APIKeyInput creates an API key.
type APIKeyInput struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"` // default [events:write]
}

// APIKeyView is an API key as the API shows it. Key is set only in the
// create response: the plaintext is shown once.
type APIKeyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Key       string     `json:"key,omitempty"`
}

func apiKeyView(k store.APIKey) APIKeyView {
	v := APIKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scopes: k.Scopes, CreatedAt: k.CreatedAt.UTC()}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC()
		v.RevokedAt = &t
	}
	return v
}

// CreateAPIKey creates a key for the tenant and returns it with its
// plaintext (Key), which is not stored and cannot be shown again.
func (a *API) CreateAPIKey(ctx context.Context, tenantID string, in APIKeyInput) (APIKeyView, error) {
	if err := checkText("name", in.Name, true, 100); err != nil {
		return APIKeyView{}, err
	}
	if in.Scopes == nil {
		in.Scopes = []string{ScopeEventsWrite}
	}
	if len(in.Scopes) == 0 {
		return APIKeyView{}, fieldError("scopes", "at least one scope")
	}
	for i, s := range in.Scopes {
		if s != ScopeEventsWrite {
			return APIKeyView{}, fieldError(fmt.Sprintf("scopes[%d]", i), "must be %s", ScopeEventsWrite)
		}
	}
	in.Scopes = slices.Compact(in.Scopes)
	prefix := randomHex(6)
	sec := make([]byte, 32)
	_, _ = rand.Read(sec)
	key := "pgw_" + prefix + "_" + base64.RawURLEncoding.EncodeToString(sec)
	k, err := a.store.CreateAPIKey(ctx, store.APIKey{
		ID: uuid.NewString(), TenantID: tenantID, Name: in.Name, Prefix: prefix,
		Hash: HashAPIKey(key), Scopes: in.Scopes, CreatedAt: a.now().UTC(),
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			// A prefix collision (2^-48): let the client retry.
			return APIKeyView{}, errf(http.StatusConflict, codeConflict, "key prefix collision, retry")
		}
		return APIKeyView{}, fmt.Errorf("cannot create api key: %w", err)
	}
	v := apiKeyView(k)
	v.Key = key
	return v, nil
}

func (a *API) handleListAPIKeys(w http.ResponseWriter, r *http.Request, p principal) error {
	ks, err := a.store.ListAPIKeys(r.Context(), p.tenantID)
	if err != nil {
		return fmt.Errorf("cannot list api keys: %w", err)
	}
	out := make([]APIKeyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, apiKeyView(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": out})
	return nil
}

func (a *API) handleCreateAPIKey(w http.ResponseWriter, r *http.Request, p principal) error {
	var in APIKeyInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	v, err := a.CreateAPIKey(r.Context(), p.tenantID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request, p principal) error {
	id, err := parseUUID(r.PathValue("id"), "api key")
	if err != nil {
		return err
	}
	if err := a.store.RevokeAPIKey(r.Context(), p.tenantID, id); err != nil {
		return storeError(err, "api key")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
