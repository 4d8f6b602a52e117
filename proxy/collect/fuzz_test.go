package collect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/proxy/collect"
)

var allKinds = []error{
	collect.ErrTooLarge, collect.ErrMalformed, collect.ErrUnsupportedVersion, collect.ErrUnknownField,
	collect.ErrMissingField, collect.ErrNoEvents, collect.ErrTooManyEvents, collect.ErrUnknownEvent,
	collect.ErrInvalidEventID, collect.ErrInvalidTimestamp, collect.ErrInvalidURL, collect.ErrInvalidClickID,
	collect.ErrInvalidProps, collect.ErrInvalidUser, collect.ErrInvalidConsent, collect.ErrInvalidSession,
}

// FuzzParse: no input panics; an accepted beacon is valid JSON and meets
// every documented rule; a rejected one yields a typed error mapped to 400
// or 413 and an empty Beacon; parsing is deterministic on a reused Beacon.
// Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(beacon(ev(""))))
	f.Add(benchBeacon1)
	lim := collect.DefaultLimits()
	p, err := collect.NewParser(lim)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		b := p.Acquire()
		defer p.Release(b)
		orig := bytes.Clone(body)
		err := p.Parse(b, body, testNow)
		require.Equal(t, orig, body, "Parse must not modify the body")
		if err != nil {
			var perr *collect.Error
			require.ErrorAs(t, err, &perr)
			require.Contains(t, allKinds, perr.Kind)
			require.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, collect.StatusCode(err))
			require.Empty(t, b.Events)
			checkPrescan(t, body, lim.MaxEvents)
			return
		}
		require.True(t, json.Valid(body), "accepted invalid JSON")
		en := &collect.Enrichment{TenantID: "t", VisitorID: "v", UserAgent: []byte("ua\x01\"\\"), Analytics: true, Marketing: true, Policy: "1"}
		for i := range b.Events {
			rec := collect.AppendPayload(nil, b, i, en)
			require.True(t, json.Valid(rec), "queued record must be valid JSON: %s", rec)
		}
		require.True(t, utf8.Valid(body))
		require.LessOrEqual(t, len(body), lim.MaxBodyBytes)
		require.Equal(t, 1, b.Version)
		require.NotEmpty(t, b.Events)
		require.LessOrEqual(t, len(b.Events), lim.MaxEvents)
		for _, e := range b.Events {
			spec, ok := platforms.Canonical(string(e.Name))
			require.True(t, ok)
			require.Equal(t, spec.Class, e.Spec.Class)
			if !spec.Custom {
				require.Equal(t, spec.Name, string(e.Name), "names are canonical")
			}
			require.Len(t, e.ID, 36)
			require.Equal(t, strings.ToLower(string(e.ID)), string(e.ID))
			require.GreaterOrEqual(t, e.TS, testNow.UnixMilli()-lim.MaxPastSkew.Milliseconds())
			require.LessOrEqual(t, e.TS, testNow.UnixMilli()+lim.MaxFutureSkew.Milliseconds())
			require.True(t, strings.HasPrefix(strings.ToLower(string(e.URL)), "http"))
			require.LessOrEqual(t, len(e.Props), lim.MaxProps)
			for _, pr := range e.Props {
				require.True(t, utf8.Valid(pr.Value.Str))
				require.LessOrEqual(t, len(pr.Value.Elems), lim.MaxArrayLen)
			}
		}
		first := dump(b)
		require.NoError(t, p.Parse(b, body, testNow))
		require.Equal(t, first, dump(b), "parse is deterministic on a reused beacon")
	})
}

// checkPrescan: for valid JSON with one "events" key, the byte scan agrees
// with encoding/json on whether there are too many events.
func checkPrescan(t *testing.T, body []byte, maxEvents int) {
	t.Helper()
	if !json.Valid(body) || bytes.Count(body, []byte(`"events"`)) != 1 {
		return
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return
	}
	var events []json.RawMessage
	if json.Unmarshal(top["events"], &events) != nil {
		require.False(t, collect.TooManyEvents(body, maxEvents))
		return
	}
	require.Equal(t, len(events) > maxEvents, collect.TooManyEvents(body, maxEvents))
}

func dump(b *collect.Beacon) string {
	return fmt.Sprintf("%v|%+v|%q|%+v|%+v", b.Version, b.Events, b.SessionID, b.IDs, b.Consent)
}

func TestTooManyEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want bool
	}{
		{`{"v":1,"events":[{},{},{}]}`, true},
		{`{"v":1,"events":[{},{}]}`, false},
		{`{"v":1,"events":[{"a":[1,2,3,4]},{"b":{"c":1,"d":2}}]}`, false},
		{`{"x":{"events":[1,2,3]},"events":[1]}`, false},
		{`{"x":"events","y":[1,2,3],"events":[1]}`, false},
		{`{"e\"vents":[1,2,3],"events":[1]}`, false},
		{`{"events" : [ "a,b", "c" ]}`, false},
		{`{"events" : [ "a", "b" , "c"]}`, true},
		{`{"events":"x","y":[1,2,3]}`, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, collect.TooManyEvents([]byte(tt.body), 2), tt.body)
	}
	// Through Parse: a large body with too many events is rejected before
	// parsing; a large valid one is not.
	_, err := parse(t, padTo(beacon(repeat(ev(""), 26)...), 8<<10))
	require.ErrorIs(t, err, collect.ErrTooManyEvents)
	_, err = parse(t, padTo(beacon(repeat(ev(""), 25)...), 8<<10))
	require.NoError(t, err)
	require.False(t, errors.Is(err, collect.ErrInvalid))
}
