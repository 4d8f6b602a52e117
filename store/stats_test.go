package store

import (
	"testing"
	"time"
)

func TestDedupCandidates(t *testing.T) {
	now := time.Date(2026, 11, 29, 18, 40, 0, 0, time.UTC)
	at := time.Date(2026, 11, 29, 17, 5, 0, 0, time.UTC)
	o := func(tenant, event, status, source string, at time.Time) DeliveryOutcome {
		return DeliveryOutcome{TenantID: tenant, EventID: event, Status: status, Source: source, CreatedAt: at}
	}
	outs := []DeliveryOutcome{
		o("t1", "plain", "delivered", SourceClient, at),      // no merge: not a candidate
		o("t1", "late", "merged", SourceServer, at),          // the sent copy is stored: probe
		o("t1", "pair", "skipped", SourceClient, at),         // sent copy and merged copy in one batch
		o("t1", "pair", "merged", SourceServer, time.Time{}), // ... from both sides
		o("t1", "folded", "delivered", SourceBoth, time.Time{}),
		o("t1", "same", "merged", SourceClient, at),
		o("t1", "same", "delivered", SourceClient, at),
		o("t2", "late", "merged", SourceClient, at), // same id, another tenant
		o("t1", "legacy", "merged", "", at),         // no source: proves nothing
	}
	got := DedupCandidates(outs, now)
	want := []DedupCandidate{
		{Index: 4, TenantID: "t1", EventID: "folded", Hour: now.Truncate(time.Hour), Side: SourceBoth},
		{Index: 1, TenantID: "t1", EventID: "late", Hour: at.Truncate(time.Hour), Side: SourceServer},
		{Index: 2, TenantID: "t1", EventID: "pair", Hour: at.Truncate(time.Hour), Side: SourceBoth},
		{Index: 5, TenantID: "t1", EventID: "same", Hour: at.Truncate(time.Hour), Side: SourceClient},
		{Index: 7, TenantID: "t2", EventID: "late", Hour: at.Truncate(time.Hour), Side: SourceClient},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d candidates %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("candidate %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if c := DedupCandidates(outs[:1], now); c != nil {
		t.Errorf("no merged or both outcome: got %+v", c)
	}
}
