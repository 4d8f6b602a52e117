package admin

import (
	"math"
	"net/http"
	"time"

	"github.com/jaraba/pixelgw/store"
)

// GET /api/v1/tracking/events/stats: the dashboard's numbers for the
// token's tenant (also the jaraba_analytics integration point), read from
// the store's hourly rollups (store.Stats), never from the audit itself.
// Definitions (README "Stats"):
//
//   - window: the current UTC hour and the 23 before it (23–24 h of data);
//   - events: accepted events (audit rows) by the source recorded;
//   - server_side.success_rate: delivered (the platform answered 2xx) /
//     finished deliveries (delivered + failed + dead), one per event and
//     pixel; retrying, skipped and merged outcomes are not finished
//     deliveries; null when nothing finished;
//   - consent.rate: distinct visitors whose latest decision in the window
//     grants marketing / distinct visitors who decided in the window;
//   - dedup.rate: events seen from both the browser and the server (see
//     store/stats.go: an outcome or audit row "both", or a merged copy
//     from the other side than the sent one; same-side repeats do not
//     count) / accepted events (every accepted event has an id);
//   - pixels[].status: store.PixelLight (green ≥ 95% delivered in 24 h;
//     amber degraded or nothing in 24 h; red refused credentials or nothing
//     delivered in 48 h although deliveries finished).

// StatsView is the answer of the stats route.
type StatsView struct {
	Window     StatsWindowView   `json:"window"`
	Events     StatsEventsView   `json:"events"`
	ServerSide DeliveriesView    `json:"server_side"`
	Consent    StatsConsentView  `json:"consent"`
	Dedup      StatsDedupView    `json:"dedup"`
	Pixels     []PixelStatusView `json:"pixels"`
}

// StatsWindowView is the time the numbers cover.
type StatsWindowView struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Hours int       `json:"hours"`
}

// StatsEventsView counts accepted events by source.
type StatsEventsView struct {
	Total  int64 `json:"total"`
	Client int64 `json:"client"`
	Server int64 `json:"server"`
	Both   int64 `json:"both"`
}

// DeliveriesView counts finished deliveries; SuccessRate is null when none
// finished.
type DeliveriesView struct {
	Delivered   int64    `json:"delivered"`
	Failed      int64    `json:"failed"`
	Dead        int64    `json:"dead"`
	Finished    int64    `json:"finished"`
	SuccessRate *float64 `json:"success_rate"`
}

// StatsConsentView counts distinct visitors by their latest decision.
type StatsConsentView struct {
	Decided   int64    `json:"visitors_decided"`
	Marketing int64    `json:"visitors_marketing"`
	Rate      *float64 `json:"rate"`
}

// StatsDedupView is the share of events seen twice.
type StatsDedupView struct {
	Deduplicated int64    `json:"deduplicated"`
	Events       int64    `json:"events"`
	Rate         *float64 `json:"rate"`
}

// PixelStatusView is one pixel's light and deliveries.
type PixelStatusView struct {
	UUID         string         `json:"uuid"`
	Platform     string         `json:"platform"`
	PixelID      string         `json:"pixel_id"`
	IsActive     bool           `json:"is_active"`
	Status       string         `json:"status"`
	StoredStatus string         `json:"stored_status"`
	Last24h      DeliveriesView `json:"last_24h"`
	Last48h      DeliveriesView `json:"last_48h"`
}

func (a *API) handleEventStats(w http.ResponseWriter, r *http.Request, p principal) error {
	st, err := a.store.TenantStats(r.Context(), p.tenantID, a.now().UTC())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, statsView(st))
	return nil
}

func statsView(st store.TenantStats) StatsView {
	v := StatsView{
		Window: StatsWindowView{From: st.From, To: st.To, Hours: int(store.StatsWindow / time.Hour)},
		Events: StatsEventsView{
			Total: st.Events.Total(), Client: st.Events.Client, Server: st.Events.Server, Both: st.Events.Both,
		},
		ServerSide: deliveriesView(st.Deliveries),
		Consent: StatsConsentView{
			Decided: st.Consent.Decided, Marketing: st.Consent.Marketing, Rate: ratio(st.Consent.Marketing, st.Consent.Decided),
		},
		Dedup: StatsDedupView{
			Deduplicated: st.Deduplicated, Events: st.Events.Total(), Rate: ratio(st.Deduplicated, st.Events.Total()),
		},
		Pixels: make([]PixelStatusView, 0, len(st.Pixels)),
	}
	for _, px := range st.Pixels {
		v.Pixels = append(v.Pixels, PixelStatusView{
			UUID: px.UUID, Platform: px.Platform, PixelID: px.PixelID, IsActive: px.Active,
			Status: px.Light, StoredStatus: px.StoredStatus,
			Last24h: deliveriesView(px.Day), Last48h: deliveriesView(px.TwoDays),
		})
	}
	return v
}

func deliveriesView(d store.DeliveryCounts) DeliveriesView {
	return DeliveriesView{
		Delivered: d.Delivered, Failed: d.Failed, Dead: d.Dead, Finished: d.Finished(),
		SuccessRate: ratio(d.Delivered, d.Finished()),
	}
}

// ratio is n/d rounded to 4 decimals, nil when d is not positive, capped
// to [0, 1]: deduplicated events are counted in the hour their second copy
// was merged and events in the hour they were accepted, so at the window's
// edge the first could exceed the second.
func ratio(n, d int64) *float64 {
	if d <= 0 {
		return nil
	}
	r := math.Round(float64(n)/float64(d)*1e4) / 1e4
	r = min(max(r, 0), 1)
	return &r
}
