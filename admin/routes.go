package admin

import (
	"errors"
	"net/http"

	"github.com/jaraba/pixelgw/store"
)

// access says who may call a route.
type access int

const (
	// public needs no token.
	public access = iota
	// operator needs role operator.
	operator
	// tenantRead needs a token naming a tenant (admin, viewer, or an
	// operator token carrying tenant_id).
	tenantRead
	// tenantWrite is tenantRead minus viewers.
	tenantWrite
	// eventsWrite is tenantWrite, or a tenant API key with scope
	// events:write (the server-side events routes only).
	eventsWrite
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

type route struct {
	method  string
	pattern string
	access  access
	h       handlerFunc
}

// routes is the one list of every admin API route. The OpenAPI document
// (openapi.json) lists exactly these; TestOpenAPIMatchesRoutes keeps them in
// sync.
func (a *API) routes() []route {
	return []route{
		{"GET", "/api/v1/openapi.json", public, a.handleOpenAPI},

		// Operator: the fleet's tenants, named in the path.
		{"GET", "/api/v1/tenants", operator, a.handleListTenants},
		{"POST", "/api/v1/tenants", operator, a.handleCreateTenant},
		{"GET", "/api/v1/tenants/{id}", operator, a.handleGetTenant},
		{"PATCH", "/api/v1/tenants/{id}", operator, a.handlePatchTenant},
		{"DELETE", "/api/v1/tenants/{id}", operator, a.handleDeleteTenant},
		{"GET", "/api/v1/tenants/{id}/domains", operator, a.handleListTenantDomains},
		{"POST", "/api/v1/tenants/{id}/domains", operator, a.handleAddTenantDomain},
		{"DELETE", "/api/v1/tenants/{id}/domains/{hostname}", operator, a.handleDeleteTenantDomain},
		{"POST", "/api/v1/tenants/{id}/cookie-keys/rotate", operator, a.handleRotateTenantCookieKeys},

		// Tenant: the tenant comes only from the token.
		{"GET", "/api/v1/tenant", tenantRead, a.handleGetOwnTenant},
		{"PATCH", "/api/v1/tenant", tenantWrite, a.handlePatchOwnTenant},
		{"GET", "/api/v1/domains", tenantRead, a.handleListOwnDomains},
		{"POST", "/api/v1/tenant/paths/rotate", tenantWrite, a.handleRotateOwnPaths},
		{"GET", "/api/v1/tracking/deadletters", tenantRead, a.handleListDeadLetters},
		{"GET", "/api/v1/tracking/events/recent", tenantRead, a.handleRecentEvents},
		{"GET", "/api/v1/tracking/events/stream", tenantRead, a.handleEventStream},
		{"POST", "/api/v1/tracking/deadletters/replay", tenantWrite, a.handleReplayDeadLetters},
		{"GET", "/api/v1/tracking/pixels", tenantRead, a.handleListPixels},
		{"POST", "/api/v1/tracking/pixels", tenantWrite, a.handleCreatePixel},
		{"GET", "/api/v1/tracking/pixels/{uuid}", tenantRead, a.handleGetPixel},
		{"PATCH", "/api/v1/tracking/pixels/{uuid}", tenantWrite, a.handlePatchPixel},
		{"DELETE", "/api/v1/tracking/pixels/{uuid}", tenantWrite, a.handleDeletePixel},
		{"POST", "/api/v1/tracking/pixels/{uuid}/verify", tenantWrite, a.handleVerifyPixel},
		{"GET", "/api/v1/api-keys", tenantRead, a.handleListAPIKeys},
		{"POST", "/api/v1/api-keys", tenantWrite, a.handleCreateAPIKey},
		{"DELETE", "/api/v1/api-keys/{id}", tenantWrite, a.handleRevokeAPIKey},
		{"POST", "/api/v1/cookie-keys/rotate", tenantWrite, a.handleRotateOwnCookieKeys},
		{"POST", "/api/v1/tracking/consent", tenantWrite, a.handleRecordConsent},
		{"GET", "/api/v1/tracking/consent/{visitor_id}", tenantRead, a.handleGetConsent},
		{"DELETE", "/api/v1/tracking/consent/{visitor_id}", tenantWrite, a.handleRevokeConsent},
		{"POST", "/api/v1/tracking/events", eventsWrite, a.handleTrackEvent},
		{"POST", "/api/v1/tracking/events/batch", eventsWrite, a.handleTrackEventBatch},
	}
}

// wrap adds authentication and authorization to a route's handler and
// renders its error.
func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p principal
		if rt.access != public {
			var err error
			p, err = a.authorize(r, rt.access)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		if err := rt.h(w, r, p); err != nil {
			a.writeError(w, r, err)
		}
	})
}

func (a *API) authorize(r *http.Request, acc access) (principal, error) {
	if acc == eventsWrite {
		key, ok, err := apiKeyCredential(r)
		if err != nil {
			return principal{}, err
		}
		if ok {
			return a.authenticateAPIKey(r, key)
		}
		acc = tenantWrite
	}
	p, err := a.auth.authenticate(r)
	if err != nil {
		return principal{}, err
	}
	switch acc {
	case operator:
		if p.role != RoleOperator {
			return principal{}, errf(http.StatusForbidden, codeForbidden, "this route needs the operator role")
		}
		return p, nil
	case tenantRead, tenantWrite:
		if p.tenantID == "" {
			return principal{}, errf(http.StatusForbidden, codeForbidden, "this route needs a token naming a tenant")
		}
		if acc == tenantWrite && p.role == RoleViewer {
			return principal{}, errf(http.StatusForbidden, codeForbidden, "the viewer role cannot write")
		}
		// The token's tenant must exist (it may have been deleted since).
		if _, err := a.store.GetTenant(r.Context(), p.tenantID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return principal{}, errf(http.StatusForbidden, codeForbidden, "the token's tenant does not exist")
			}
			return principal{}, err
		}
		return p, nil
	}
	return principal{}, errors.New("unknown route access")
}
