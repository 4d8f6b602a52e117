package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
)

// GET /api/v1/tracking/events/stream: Server-Sent Events of the token's
// tenant, for the dashboard's live debug panel.
//
//	event: accepted   data: a RecentEventView (masked like the recent view; deliveries [])
//	event: delivery   data: a StreamDelivery (one pixel's outcome, with the HTTP status)
//	event: gap        data: {"at":…}  some updates may have been lost (broker reconnect)
//	event: end        data: {"reason":"shutdown"|"too_slow"|"token_expired"}  then the server closes
//
// Every message has an id (a counter per connection: no replay, so
// Last-Event-ID is ignored); a comment line every streamHeartbeat keeps
// proxies from closing an idle stream. Auth is the usual bearer token in
// the Authorization header (viewer or admin) — so browsers read it with
// fetch() and a stream reader, not EventSource, which cannot send headers;
// tokens never go in the URL. API keys are not accepted (they only send
// events). The token is checked when the stream opens, and the stream ends
// when it expires (its exp plus api.jwt.leeway, when a new request with it
// would be refused): the dashboard reconnects with a fresh token.
// At most api.max_streams streams per process and api.max_streams_per_tenant
// per tenant (503 + Retry-After beyond).
// The server's write timeout is replaced, for this route, by a deadline per
// write (streamWriteTimeout).

const (
	// streamHeartbeat is how often an idle stream gets a comment line.
	streamHeartbeat = 15 * time.Second
	// streamWriteTimeout bounds one write + flush to the client.
	streamWriteTimeout = 10 * time.Second
)

// StreamDelivery is one pixel's outcome for an event, on the live stream.
// DeliveryOut's source and test are the outcome's, as in the recent view.
type StreamDelivery struct {
	EventID string `json:"event_id"`
	// EventName is the event's canonical name ("" from an instance that
	// does not send it yet).
	EventName string `json:"event_name,omitempty"`
	DeliveryOut
	// HTTPStatus is the platform's answer to the request that carried the
	// event; absent when no request was made (skipped, merged, refused).
	HTTPStatus int `json:"http_status,omitempty"`
}

// streams counts this process's open streams, in all and per tenant, and
// ends them on shutdown.
type streams struct {
	max, perTenant int
	heartbeat      time.Duration
	down           chan struct{}
	once           sync.Once

	mu       sync.Mutex
	n        int
	byTenant map[string]int
}

func newStreams(max, perTenant int) *streams {
	return &streams{max: max, perTenant: perTenant, heartbeat: streamHeartbeat, down: make(chan struct{}), byTenant: map[string]int{}}
}

// acquire takes a slot for one of the tenant's streams; an error (503)
// when the process or the tenant has none left.
func (s *streams) acquire(tenantID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.n >= s.max:
		return errf(http.StatusServiceUnavailable, codeUnavailable, "too many live streams on this server, retry later")
	case s.byTenant[tenantID] >= s.perTenant:
		return errf(http.StatusServiceUnavailable, codeUnavailable, "too many live streams for this tenant on this server, retry later")
	}
	s.n++
	s.byTenant[tenantID]++
	return nil
}

// release gives back a slot acquire took.
func (s *streams) release(tenantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.byTenant[tenantID]--; s.byTenant[tenantID] <= 0 {
		delete(s.byTenant, tenantID)
	}
}

// CloseStreams ends every open stream (with an "end" event) and refuses
// new ones: the http.Server's Shutdown waits for handlers, and a stream
// never ends on its own. Server registers it with RegisterOnShutdown.
// Idempotent.
func (a *API) CloseStreams() { a.streams.once.Do(func() { close(a.streams.down) }) }

func (a *API) handleEventStream(w http.ResponseWriter, r *http.Request, p principal) error {
	if a.live == nil {
		return errf(http.StatusServiceUnavailable, codeUnavailable, "the live stream is not enabled on this server")
	}
	select {
	case <-a.streams.down:
		return errf(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down")
	default:
	}
	if p.expires.IsZero() {
		// Only JWTs reach here (the route does not take API keys); a
		// principal without an expiry would stream forever.
		return errf(http.StatusForbidden, codeForbidden, "the live stream needs a token")
	}
	if err := a.streams.acquire(p.tenantID); err != nil {
		w.Header().Set("Retry-After", "10")
		return err
	}
	defer a.streams.release(p.tenantID)
	ctx := r.Context()
	sub, err := a.live.Subscribe(ctx, p.tenantID)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the client left
		}
		a.log.WarnContext(ctx, "cannot open a live stream", slog.String("request_id", requestID(ctx)), slog.String("error", err.Error()))
		w.Header().Set("Retry-After", "1")
		return errf(http.StatusServiceUnavailable, codeUnavailable, "the live stream is unavailable, retry later")
	}
	defer sub.Close()

	// The server's WriteTimeout would cut the stream: each write gets its
	// own deadline instead. (Its ReadTimeout does not matter: net/http
	// clears the read deadline for the background read that notices the
	// client leaving.)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	var id uint64
	send := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		buf.Reset()
		return rc.Flush() == nil
	}
	event := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			return // only our own types: cannot happen
		}
		id++
		buf.WriteString("event: ")
		buf.WriteString(name)
		buf.WriteString("\nid: ")
		buf.WriteString(strconv.FormatUint(id, 10))
		buf.WriteString("\ndata: ")
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	end := func(reason string) {
		event("end", map[string]string{"reason": reason})
		send()
	}

	buf.WriteString(": connected\n\n")
	if !send() {
		return nil
	}
	tick := time.NewTicker(a.streams.heartbeat)
	defer tick.Stop()
	expired := time.NewTimer(p.expires.Sub(a.now()))
	defer expired.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.streams.down:
			end("shutdown")
			return nil
		case <-expired.C:
			end("token_expired")
			return nil
		case <-tick.C:
			buf.WriteString(": ping\n\n")
		case <-sub.Ready():
			ups, err := sub.Take()
			switch {
			case errors.Is(err, live.ErrTooSlow):
				end("too_slow")
				return nil
			case err != nil:
				end("shutdown")
				return nil
			}
			for i := range ups {
				u := &ups[i]
				switch u.Kind {
				case live.KindAccepted:
					event(u.Kind, acceptedView(u))
				case live.KindDelivery:
					event(u.Kind, StreamDelivery{
						EventID: u.EventID, EventName: u.EventName,
						DeliveryOut: DeliveryOut{Pixel: u.Pixel, Platform: u.Platform, Status: u.Status, Attempts: u.Attempts, At: u.At.UTC(),
							Source: u.Source, Test: u.Test},
						HTTPStatus: u.HTTPStatus,
					})
				case live.KindGap:
					event(u.Kind, map[string]time.Time{"at": u.At.UTC()})
				}
			}
		}
		if buf.Len() > 0 && !send() {
			return nil // the client is gone or too slow to take a write
		}
	}
}

// acceptedView masks an accepted event exactly like the recent view.
func acceptedView(u *live.Update) RecentEventView {
	v := eventView(&store.AuditEvent{
		EventID: u.EventID, EventName: u.EventName, EventSource: u.Source, EventSourceURL: u.URL,
		ClientIP: u.ClientIP, ClientUserAgent: u.UserAgent, FBP: u.FBP, FBC: u.FBC, GCLID: u.GCLID, CreatedAt: u.At,
	})
	v.HasUserData = u.HasUserData
	return v
}
