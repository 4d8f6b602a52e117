package admin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

// BenchmarkTrackEventBatch: one batch of 1,000 conversions with user data,
// click ids and custom data, through the API key, validation, consent and
// one admit into a real embedded queue (SQLite, one transaction).
func BenchmarkTrackEventBatch(b *testing.B) {
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, filepath.Join(b.TempDir(), "pixelgw.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	q, err := queuesqlite.Open(ctx, filepath.Join(b.TempDir(), "queue.db"), queuesqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	kr, err := secret.NewKeyring("m1", map[string][]byte{"m1": bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	cfg := Defaults()
	cfg.JWT.Keys = []JWTKey{{KID: "hs1", Alg: "HS256", Secret: "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="}}
	api, err := New(cfg, Deps{Store: st, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Decisions: q, Admitter: q})
	if err != nil {
		b.Fatal(err)
	}
	tn, err := api.CreateTenant(ctx, TenantInput{Slug: "bench", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	key, err := api.CreateAPIKey(ctx, tn.ID, APIKeyInput{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	vis, yes := randomUUID(), true
	if _, err := api.RecordConsent(ctx, tn.ID, ConsentInput{VisitorID: vis, Analytics: &yes, Marketing: &yes, Functional: &yes, PolicyVersion: "1"}); err != nil {
		b.Fatal(err)
	}
	h := api.Handler()
	evs := make([]string, MaxBatchEvents)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range evs {
			evs[i] = evBody("purchase", randomUUID(), vis, `,"user_data":{"em":"`+sha+`","ph":"+34612345678"},"fbp":"fb.1.2.3","custom_data":{"value":`+strconv.Itoa(i)+`,"currency":"EUR"}`)
		}
		body := `{"events":[` + strings.Join(evs, ",") + `]}`
		b.StartTimer()
		req := httptest.NewRequest("POST", "/api/v1/tracking/events/batch", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key.Key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
