package dispatch_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// spy records the events a destination is asked to send.
type spy struct {
	platforms.Destination
	mu   sync.Mutex
	sent []platforms.Event
}

func (s *spy) Send(ctx context.Context, p *platforms.Pixel, evs []*platforms.Event) (platforms.Response, error) {
	s.mu.Lock()
	for _, e := range evs {
		s.sent = append(s.sent, *e)
	}
	s.mu.Unlock()
	return s.Destination.Send(ctx, p, evs)
}

func (s *spy) events() []platforms.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// copyPayload is payload() edited: src, user, ids, ip and props replaced.
func copyPayload(t testing.TB, tenant, id, name, src string, user, ids map[string]any, ip string, props map[string]any) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload(tenant, id, name, time.Now()), &m))
	m["src"], m["user"], m["ids"], m["ip"], m["props"] = src, user, ids, ip, props
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func gather(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestMergeWindowFoldsTheServerCopy(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 3 * time.Second // far longer than two back-to-back admits
	e := newEnv(t, cfg)
	sp := &spy{Destination: e.deps.Destinations[0]}
	e.deps.Destinations[0] = sp
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.start()

	id := uuid.NewString()
	emHash := normalize.SHA256Hex("jane.doe@example.com")
	browser := copyPayload(t, ten, id, "lead", "client", map[string]any{},
		map[string]any{"fbp": "fb.1.1764400000000.1234567890"}, "203.0.113.7", map[string]any{"value": 10, "currency": "EUR"})
	server := copyPayload(t, ten, id, "lead", "server", map[string]any{"em": emHash},
		map[string]any{}, "198.51.100.1", map[string]any{"value": 12.5, "currency": "EUR"})
	e.admitID(ten, id, "lead", browser, queue.Queued)
	e.admitID(ten, id, "lead", server, queue.Duplicate) // queued as a merge entry

	e.waitStatus(ten, id, px, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "the event and its merge entry acknowledged")
	reqs := e.requests(px)
	require.Len(t, reqs, 1, "ONE request carried the merged event")
	require.True(t, reqs[0].Accepted, "%v", reqs[0].Errors)
	var body struct {
		Data []struct {
			EventID    string         `json:"event_id"`
			UserData   map[string]any `json:"user_data"`
			CustomData map[string]any `json:"custom_data"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	require.Len(t, body.Data, 1)
	ev := body.Data[0]
	require.Equal(t, id, ev.EventID)
	require.Equal(t, "fb.1.1764400000000.1234567890", ev.UserData["fbp"], "the browser copy's fbp")
	require.Contains(t, []any{emHash, []any{emHash}}, ev.UserData["em"], "the server copy's hashed email")
	require.Equal(t, "203.0.113.7", ev.UserData["client_ip_address"], "the browser's IP is kept")
	require.Equal(t, 12.5, ev.CustomData["value"], "the server copy wins on conflict")

	sent := sp.events()
	require.Len(t, sent, 1)
	require.Equal(t, store.SourceBoth, sent[0].Source)

	var statuses []string
	for _, o := range e.outcomes(ten, id) {
		statuses = append(statuses, o.Status)
	}
	require.Equal(t, []string{dispatch.StatusMerged, dispatch.StatusDelivered}, statuses)
	evs, err := e.st.RecentEvents(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1, "one audit row")
}

func TestMergeWindowOverflowAndDrain(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 10 * time.Minute // only the cap or Stop's drain sends them
	cfg.ClaimMinIdle = time.Hour
	cfg.MergeMaxWaiting = 1
	e := newEnv(t, cfg)
	e.deps.Destinations = e.deps.Destinations[:1] // Meta alone: the cap is shared by every platform
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	// Queued before Start: one read claims all three, in order.
	ids := []string{e.admit(ten, "lead"), e.admit(ten, "lead"), e.admit(ten, "lead")}
	e.eng = dispatch.New(e.cfg, e.deps)
	require.NoError(t, e.eng.Start(t.Context()))

	eventually(t, func() bool { return len(e.delivered(px)) == 2 }, "over the cap, sent without waiting")
	require.Equal(t, map[string]int{ids[1]: 1, ids[2]: 1}, e.delivered(px))
	require.Empty(t, e.final(ten, ids[0], px.UUID).Status, "the first still waits")
	require.Positive(t, e.lag(), "a waiting event is not acknowledged")
	require.Equal(t, 1.0, gather(t, reg, "pixelgw_merge_window_waiting", nil))
	require.Equal(t, 2.0, gather(t, reg, "pixelgw_merge_window_overflow_total", map[string]string{"platform": "meta"}))

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.eng.Stop(ctx))
	require.Equal(t, map[string]int{ids[0]: 1, ids[1]: 1, ids[2]: 1}, e.delivered(px), "Stop sends what waits")
	require.Zero(t, e.lag())
	require.Equal(t, 0.0, gather(t, reg, "pixelgw_merge_window_waiting", nil))
}
