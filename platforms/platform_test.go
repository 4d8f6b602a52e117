package platforms_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
)

func TestDecodeEvent(t *testing.T) {
	t.Parallel()
	rec := `{"v":1,"src":"client","tenant":"t1","id":"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11","name":"purchase","class":"conversion",` +
		`"ts":1732890000000,"recv":1732890000123,"url":"https://www.shop.com/p","sid":"17","visitor":"v1","ip":"203.0.113.9","ua":"UA",` +
		`"consent":{"a":true,"m":true,"f":false,"policy":"2","gpc":false},"ids":{"fbp":"fb.1.1.2","gclid":"G"},` +
		`"props":{"value":12.5,"currency":"EUR"},"user":{"em":"jane@example.com","ph":"+34600123456"}}`
	e, err := platforms.DecodeEvent([]byte(rec))
	require.NoError(t, err)
	require.Equal(t, "purchase", e.Name)
	require.Equal(t, platforms.ClassConversion, e.Class)
	require.Equal(t, time.UnixMilli(1732890000000).UTC(), e.Time)
	require.Equal(t, "v1", e.VisitorID)
	require.True(t, e.Consent.Marketing)
	require.Equal(t, "G", e.IDs.GCLID)
	require.Equal(t, "jane@example.com", e.User.Email)
	require.Equal(t, 12.5, e.Props["value"])

	for _, bad := range []string{`{`, `{"v":2}`, `{"v":1,"tenant":"t","id":"x","name":"nope","ts":1}`, `{"v":1,"name":"lead","ts":1}`} {
		_, err := platforms.DecodeEvent([]byte(bad))
		require.ErrorIs(t, err, platforms.ErrBadRecord, bad)
	}
}

func TestPixelMapped(t *testing.T) {
	t.Parallel()
	p := &platforms.Pixel{EventMap: map[string]string{"lead": "urn:lla:llaPartnerConversion:1", "page_view": ""}}
	v, ok := p.Mapped("lead", "Lead")
	require.True(t, ok)
	require.Equal(t, "urn:lla:llaPartnerConversion:1", v)
	_, ok = p.Mapped("page_view", "PageView")
	require.False(t, ok, `"" means do not send`)
	v, ok = p.Mapped("purchase", "Purchase")
	require.True(t, ok)
	require.Equal(t, "Purchase", v)
	_, ok = p.Mapped("contact", "")
	require.False(t, ok, "no default and no override")
}

func TestErrorsUnwrap(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	var re *platforms.RetryableError
	require.ErrorAs(t, error(&platforms.RetryableError{Err: base, RetryAfter: time.Second}), &re)
	require.ErrorIs(t, &platforms.PermanentError{Err: base, Auth: true}, base)
	require.Contains(t, (&platforms.BatchError{Errs: map[int]error{0: base}}).Error(), "1 events")
}
