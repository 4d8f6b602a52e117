package proxy

import (
	"strings"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/proxy/tag"
	"github.com/jaraba/pixelgw/store"
)

// clientPixels are the browser tags of the tenant's active pixels with
// client_side_enabled (issue 5 §6): the pixel id and, per internal event,
// what the tag is sent — the same standard names the server adapters use
// (meta.StandardEvent, google.StandardEvent, tiktok.StandardEvent) with the
// pixel's event_map overrides ("" = not sent); for LinkedIn the conversion
// rule id of the mapped URN, for X the event tag id as tw-<pixel>-<tag>.
// A Google pixel that is also server-side is left out: GA4 does not
// deduplicate, and the admin API refuses that combination anyway.
// Nothing secret goes in: no credentials, no test event code.
func clientPixels(pixels []store.Pixel) []tag.ClientPixel {
	var out []tag.ClientPixel
	for _, p := range pixels {
		if !p.ClientSideEnabled || p.Platform == store.PlatformGoogle && p.ServerSideEnabled {
			continue
		}
		c := tag.ClientPixel{Platform: p.Platform, ID: p.PixelID, Events: map[string]string{}}
		var std func(string) string
		switch p.Platform {
		case store.PlatformMeta:
			std, c.Custom = meta.StandardEvent, true
		case store.PlatformGoogle:
			std, c.Custom = google.StandardEvent, true
		case store.PlatformTikTok:
			std = tiktok.StandardEvent
		}
		for _, e := range platforms.Events() {
			if _, ok := p.EventMap[e.Name]; !ok && std != nil {
				if n := std(e.Name); n != "" {
					c.Events[e.Name] = n
				}
			}
		}
		for k, v := range p.EventMap {
			if v != "" && !c.Custom && std == nil {
				v = browserValue(p, v)
			}
			if v != "" || c.Custom && strings.HasPrefix(k, platforms.CustomPrefix) {
				c.Events[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// browserValue turns a LinkedIn or X event_map value into what the
// browser tag takes: the rule id of a conversion URN, an X event tag id in
// its tw-<pixel>-<tag> form.
func browserValue(p store.Pixel, v string) string {
	switch p.Platform {
	case store.PlatformLinkedIn:
		return strings.TrimPrefix(v, linkedin.URNPrefix)
	case store.PlatformX:
		if !strings.HasPrefix(v, "tw-") {
			return "tw-" + p.PixelID + "-" + v
		}
	}
	return v
}
