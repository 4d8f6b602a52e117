package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/jaraba/pixelgw/store/queue"
)

// DeadLetters lists and replays a tenant's dead letters (queue.Queue
// satisfies it). Both methods are tenant-scoped: another tenant's ids are
// ignored.
type DeadLetters interface {
	DeadLetters(ctx context.Context, tenantID string, limit int) ([]queue.DeadLetter, error)
	Replay(ctx context.Context, tenantID string, ids []string) (int, error)
}

// DeadLetterView is a dead letter as the API shows it: what failed, for
// which platform, and why. The payload (the event, with raw user data) is
// never returned.
type DeadLetterView struct {
	ID        string    `json:"id"`
	Platform  string    `json:"platform"`
	EventID   string    `json:"event_id"`
	EventName string    `json:"event_name"`
	Kind      string    `json:"kind"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// ReplayInput names the dead letters to send again.
type ReplayInput struct {
	IDs []string `json:"ids"`
}

const (
	maxDeadLetterList = 500
	maxReplayIDs      = 1000
)

func (a *API) deadLetters() (DeadLetters, error) {
	if a.dls == nil {
		return nil, errf(http.StatusServiceUnavailable, codeUnavailable, "dead letters are not enabled on this server")
	}
	return a.dls, nil
}

func (a *API) handleListDeadLetters(w http.ResponseWriter, r *http.Request, p principal) error {
	dls, err := a.deadLetters()
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadLetterList {
			return fieldError("limit", "must be an integer in 1..%d", maxDeadLetterList)
		}
		limit = n
	}
	list, err := dls.DeadLetters(r.Context(), p.tenantID, limit)
	if err != nil {
		return err
	}
	out := make([]DeadLetterView, 0, len(list))
	for _, d := range list {
		out = append(out, DeadLetterView{
			ID: d.ID, Platform: platformOfGroup(d.Group), EventID: d.EventID, EventName: d.EventName,
			Kind: d.Kind, Reason: d.Reason, At: d.At.UTC(),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": out})
	return nil
}

func (a *API) handleReplayDeadLetters(w http.ResponseWriter, r *http.Request, p principal) error {
	dls, err := a.deadLetters()
	if err != nil {
		return err
	}
	var in ReplayInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	switch {
	case len(in.IDs) == 0:
		return fieldError("ids", "required: the ids of the dead letters to replay")
	case len(in.IDs) > maxReplayIDs:
		return fieldError("ids", "at most %d per call", maxReplayIDs)
	}
	for _, id := range in.IDs {
		if id == "" || len(id) > 64 {
			return fieldError("ids", "each id must be 1-64 characters")
		}
	}
	n, err := dls.Replay(r.Context(), p.tenantID, in.IDs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
	return nil
}

// platformOfGroup turns the engine's consumer group ("deliver-meta") into
// the platform name.
func platformOfGroup(g string) string {
	const prefix = "deliver-"
	if len(g) > len(prefix) && g[:len(prefix)] == prefix {
		return g[len(prefix):]
	}
	return g
}
