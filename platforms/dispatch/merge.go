package dispatch

import (
	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
)

// mergeInto folds cp, another copy of the same conversion (a merge entry:
// the browser's or the back end's), into ev, the copy waiting in the merge
// window:
//
//   - user data and click ids (fbp, fbc, gclid...): the union; on conflict
//     the server copy's value wins (the back end knows the buyer);
//   - custom data (value, currency...): the union, the server copy winning
//     on conflict too;
//   - IP, user agent, page URL, referrer, visitor, session and engagement
//     time only fill what ev lacks (the browser's are the visitor's own);
//   - consent: the browser copy's (the visitor's signed decision);
//   - Source becomes "both" when the copies came from both sides.
//
// Name, id, tenant, class and time stay ev's.
func mergeInto(ev, cp *platforms.Event) {
	serverWins := cp.Source == store.SourceServer && ev.Source != store.SourceServer
	take := func(dst *string, v string) {
		if v != "" && (*dst == "" || serverWins) {
			*dst = v
		}
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	u, cu := &ev.User, &cp.User
	for _, f := range [...]struct {
		dst *string
		v   string
	}{
		{&u.Email, cu.Email}, {&u.Phone, cu.Phone}, {&u.FirstName, cu.FirstName}, {&u.LastName, cu.LastName},
		{&u.Gender, cu.Gender}, {&u.DateOfBirth, cu.DateOfBirth}, {&u.City, cu.City}, {&u.State, cu.State},
		{&u.Zip, cu.Zip}, {&u.Country, cu.Country}, {&u.ExternalID, cu.ExternalID},
	} {
		take(f.dst, f.v)
	}
	id, cid := &ev.IDs, &cp.IDs
	for _, f := range [...]struct {
		dst *string
		v   string
	}{
		{&id.FBP, cid.FBP}, {&id.FBC, cid.FBC}, {&id.GCLID, cid.GCLID}, {&id.GBRAID, cid.GBRAID},
		{&id.WBRAID, cid.WBRAID}, {&id.TTCLID, cid.TTCLID}, {&id.TTP, cid.TTP}, {&id.LiFatID, cid.LiFatID},
		{&id.TWCLID, cid.TWCLID},
	} {
		take(f.dst, f.v)
	}
	for _, f := range [...]struct {
		dst *string
		v   string
	}{
		{&ev.ClientIP, cp.ClientIP}, {&ev.UserAgent, cp.UserAgent}, {&ev.URL, cp.URL}, {&ev.Referrer, cp.Referrer},
		{&ev.VisitorID, cp.VisitorID}, {&ev.SessionID, cp.SessionID},
	} {
		fill(f.dst, f.v)
	}
	if ev.EngagementMS == 0 {
		ev.EngagementMS = cp.EngagementMS
	}
	if len(cp.Props) > 0 {
		props := make(map[string]any, len(ev.Props)+len(cp.Props))
		for k, v := range ev.Props {
			props[k] = v
		}
		for k, v := range cp.Props {
			if _, ok := props[k]; !ok || serverWins {
				props[k] = v
			}
		}
		ev.Props = props
	}
	if isBrowser(cp.Source) && !isBrowser(ev.Source) {
		ev.Consent = cp.Consent
	}
	if side(ev.Source) != side(cp.Source) {
		ev.Source = store.SourceBoth
	}
}

// isBrowser: the copy came from the page (the edge's beacons say "client";
// older records say nothing).
func isBrowser(source string) bool { return source == store.SourceClient || source == "" }

// side normalises a source: "" is the browser's.
func side(source string) string {
	if source == "" {
		return store.SourceClient
	}
	return source
}
