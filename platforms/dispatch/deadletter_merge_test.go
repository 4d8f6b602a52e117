package dispatch_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/test/platformsim"
)

// TestDeadLetterCarriesMergedIdentifiers: a conversion whose server copy
// was folded in during the merge window, then exhausted its attempts, is
// dead-lettered with the merged identifiers (not the browser copy alone),
// and its replay sends them.
func TestDeadLetterCarriesMergedIdentifiers(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 3 * time.Second
	e := newEnv(t, cfg)
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Status: http.StatusServiceUnavailable})
	e.start()

	id := uuid.NewString()
	emHash := normalize.SHA256Hex("jane.doe@example.com")
	browser := copyPayload(t, ten, id, "lead", "client", map[string]any{},
		map[string]any{"fbp": "fb.1.1764400000000.1234567890"}, "203.0.113.7", nil)
	server := copyPayload(t, ten, id, "lead", "server", map[string]any{"em": emHash},
		map[string]any{}, "198.51.100.1", nil)
	e.admitID(ten, id, "lead", browser, queue.Queued)
	e.admitID(ten, id, "lead", server, queue.Duplicate)

	e.waitStatus(ten, id, px, dispatch.StatusDead)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged once dead-lettered")
	letters, err := e.q.DeadLetters(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	ev, err := platforms.DecodeEvent(letters[0].Payload)
	require.NoError(t, err)
	require.Equal(t, id, ev.EventID)
	require.Equal(t, emHash, ev.User.Email, "the server copy's hashed email")
	require.Equal(t, "fb.1.1764400000000.1234567890", ev.IDs.FBP, "the browser copy's fbp")
	require.Equal(t, store.SourceBoth, ev.Source)

	e.sim.ClearFaults()
	n, err := e.q.Replay(t.Context(), ten, []string{letters[0].ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	eventually(t, func() bool { return e.delivered(px)[id] == 1 }, "replay delivered")
	var sent *platformsim.Request
	for _, r := range e.requests(px) {
		if r.Accepted {
			sent = &r
		}
	}
	var body struct {
		Data []struct {
			UserData map[string]any `json:"user_data"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(sent.Body, &body))
	require.Len(t, body.Data, 1)
	require.Contains(t, []any{emHash, []any{emHash}}, body.Data[0].UserData["em"], "the replay carries the merged email")
	require.Equal(t, "fb.1.1764400000000.1234567890", body.Data[0].UserData["fbp"])
}
