package tag

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jaraba/pixelgw/store"
)

// LoaderConfig is what one tenant's loader is built from: plain data the
// edge fills from a tenant snapshot (FromSettings does the common part).
type LoaderConfig struct {
	// LoaderPaths are the paths the loader is served at, current first,
	// then rotated ones still in grace. The loader strips the one it was
	// loaded from off its own URL to find the edge's base (same-origin mode
	// puts a prefix before it). At least one.
	LoaderPaths []string
	// CollectPath and ConsentPath are the first-party endpoints the loader
	// posts to, on its own origin.
	CollectPath string
	ConsentPath string
	// PolicyVersion is the consent policy the banner asks about; a stored
	// decision under another version asks again. Default "1".
	PolicyVersion string
	// DefaultLanguage is the banner language when neither the page's lang
	// nor the browser's language is one of Languages. Default: the first
	// of Languages.
	DefaultLanguage string
	// Languages the banner speaks. Default: DefaultLanguage, else "en".
	// es, en and pt have built-in texts; another language needs every text
	// key in Texts.
	Languages []string
	// Texts override the built-in banner texts, key by key: language ->
	// key -> text (plain text, at most 2000 characters; a newline breaks
	// the line). Keys: title, body, accept ("Accept all"), reject ("Reject
	// all"), customize (opens the toggles), save ("Save choices"),
	// analytics, marketing, functional (the toggles' names) and
	// analytics_desc, marketing_desc, functional_desc (a line under each),
	// privacy (the policy link's text), reopen (the floating link's text).
	// An empty text keeps the built-in one. Other keys and languages are
	// ignored (not shipped).
	Texts map[string]map[string]string
	// Colors override the banner colours: keys background, text, button,
	// button_text (others are ignored); values #rgb,
	// #rrggbb, #rrggbbaa or a CSS colour name.
	Colors map[string]string
	// PrivacyURL is the tenant's privacy policy (absolute http(s) URL or a
	// path on the page's site), linked from the banner. Optional.
	PrivacyURL string
	// SPA fires a page_view on every history change.
	SPA bool
	// ReopenLink puts a small floating "privacy settings" button in the
	// bottom-left corner once the visitor has decided, which reopens the
	// banner (as pgw('consent', 'show') does). Off by default: most sites
	// link to pgw('consent', 'show') from their footer instead. No tenant
	// setting maps to it yet (store.TenantSettings has no field for it).
	ReopenLink bool
	// Platforms are the platforms of the tenant's active pixels (meta,
	// google, linkedin, tiktok, twitter): with analytics consent alone the
	// loader sends only when google is among them; with none it sends
	// nothing.
	Platforms []string
	// ClientSide are the pixels whose platform's own browser tag the loader
	// loads once the visitor has marketing consent (never before, never
	// without it). Only ids and event names: no credentials, no test codes.
	ClientSide []ClientPixel
}

// ClientPixel is one client-side pixel: the loader loads the platform's
// official tag (TagURL) initialised with ID and sends it every tracked
// event that Events maps, with the first-party beacon's event id.
type ClientPixel struct {
	// Platform is meta, google, linkedin, tiktok or twitter.
	Platform string
	// ID initialises the tag: the Meta pixel id, the GA4 measurement id,
	// the LinkedIn Insight Tag partner id, the TikTok pixel code or the X
	// pixel id. 1-64 of [A-Za-z0-9_-].
	ID string
	// Events maps an internal event name to what the tag is sent: the
	// event name (meta, google, tiktok), the conversion rule id (linkedin,
	// digits) or the event tag id (twitter, tw-<pixel>-<tag>). An event
	// missing, or mapped to "", is not sent; except that with Custom a
	// custom event ("custom:<name>") missing from Events is sent as <name>.
	Events map[string]string
	Custom bool
}

// TagURL is the platform's official browser tag for a pixel id; "" for an
// unknown platform.
func TagURL(platform, id string) string {
	switch platform {
	case "meta":
		return "https://connect.facebook.net/en_US/fbevents.js"
	case "google":
		return "https://www.googletagmanager.com/gtag/js?id=" + url.QueryEscape(id)
	case "linkedin":
		return "https://snap.licdn.com/li.lms-analytics/insight.min.js"
	case "tiktok":
		return "https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=" + url.QueryEscape(id) + "&lib=ttq"
	case "twitter":
		return "https://static.ads-twitter.com/uwt.js"
	}
	return ""
}

// textKeys are the banner text keys (LoaderConfig.Texts).
var textKeys = [...]string{
	"title", "body", "accept", "reject", "customize", "save",
	"analytics", "analytics_desc", "marketing", "marketing_desc", "functional", "functional_desc",
	"privacy", "reopen",
}

// maxTextRunes is the longest text, in characters: what the admin API
// accepts (settings.banner_texts), so a stored text never fails a build.
const maxTextRunes = 2000

// colorKeys are the banner colour keys.
var colorKeys = [...]string{"background", "text", "button", "button_text"}

// defaultColors are used for the keys a tenant does not set.
func defaultColors() map[string]string {
	return map[string]string{
		"background":  "#ffffff",
		"text":        "#1a1a1a",
		"button":      "#1a1a1a",
		"button_text": "#ffffff",
	}
}

// defaultTexts are the built-in banner texts (every key of textKeys in
// es, en and pt).
func defaultTexts() map[string]map[string]string {
	return map[string]map[string]string{
		"en": {
			"title":           "Your privacy",
			"body":            "We use cookies to measure visits and, with your permission, to show you relevant ads. You can change your choice at any time.",
			"accept":          "Accept all",
			"reject":          "Reject all",
			"customize":       "Customize",
			"save":            "Save choices",
			"analytics":       "Analytics",
			"analytics_desc":  "Measure visits and how the site is used.",
			"marketing":       "Marketing",
			"marketing_desc":  "Share visits and purchases with advertising platforms to measure and personalise ads.",
			"functional":      "Functional",
			"functional_desc": "Remember your preferences and enable extra features.",
			"privacy":         "Privacy policy",
			"reopen":          "Privacy settings",
		},
		"es": {
			"title":           "Tu privacidad",
			"body":            "Usamos cookies para medir las visitas y, con tu permiso, mostrarte anuncios relevantes. Puedes cambiar tu elección cuando quieras.",
			"accept":          "Aceptar todo",
			"reject":          "Rechazar todo",
			"customize":       "Personalizar",
			"save":            "Guardar selección",
			"analytics":       "Analítica",
			"analytics_desc":  "Medir las visitas y cómo se usa el sitio.",
			"marketing":       "Marketing",
			"marketing_desc":  "Compartir visitas y compras con plataformas publicitarias para medir y personalizar anuncios.",
			"functional":      "Funcionalidad",
			"functional_desc": "Recordar tus preferencias y activar funciones adicionales.",
			"privacy":         "Política de privacidad",
			"reopen":          "Configuración de privacidad",
		},
		"pt": {
			"title":           "A sua privacidade",
			"body":            "Usamos cookies para medir as visitas e, com a sua permissão, mostrar-lhe anúncios relevantes. Pode alterar a sua escolha a qualquer momento.",
			"accept":          "Aceitar tudo",
			"reject":          "Rejeitar tudo",
			"customize":       "Personalizar",
			"save":            "Guardar escolhas",
			"analytics":       "Análise",
			"analytics_desc":  "Medir as visitas e a utilização do site.",
			"marketing":       "Marketing",
			"marketing_desc":  "Partilhar visitas e compras com plataformas de publicidade para medir e personalizar anúncios.",
			"functional":      "Funcionalidade",
			"functional_desc": "Lembrar as suas preferências e ativar funcionalidades adicionais.",
			"privacy":         "Política de privacidade",
			"reopen":          "Definições de privacidade",
		},
	}
}

// knownPlatforms are the platform names LoaderConfig.Platforms accepts.
var knownPlatforms = [...]string{"meta", "google", "linkedin", "tiktok", "twitter"}

// fingerprints are substrings ad-blocker lists match in first-party URLs
// (vendor file and endpoint names); no path the loader uses may hold one.
var fingerprints = [...]string{
	"gtag", "gtm", "fbevents", "/collect", "/g/collect", "/tr", "/api/events",
	"pixel.gif", "analytics", "track", "beacon", "pixel",
}

// ErrInvalidConfig: a LoaderConfig field is unusable; the error names it.
var ErrInvalidConfig = errors.New("invalid loader config")

// Fingerprint returns the first vendor fingerprint p contains
// (case-insensitive), or "" when it has none. "/tr" counts only as a whole
// segment (followed by the end or a character other than a letter or
// digit), as the lists match it ("/tr?", "/tr/"): "/trx8a1" is fine.
func Fingerprint(p string) string {
	l := strings.ToLower(p)
	for _, f := range fingerprints {
		if f == "/tr" {
			for i := strings.Index(l, f); i >= 0; {
				end := i + len(f)
				if end == len(l) || !alnum(l[end]) {
					return f
				}
				j := strings.Index(l[end:], f)
				if j < 0 {
					break
				}
				i = end + j
			}
			continue
		}
		if strings.Contains(l, f) {
			return f
		}
	}
	return ""
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// FromSettings fills a LoaderConfig from a tenant's settings and the
// platforms of its active pixels. Rotated loader paths (PreviousPaths of
// kind "loader") follow the current one; SPA stays off (set it when the
// tenant asks).
func FromSettings(s store.TenantSettings, platforms []string) LoaderConfig {
	c := LoaderConfig{
		LoaderPaths:     []string{s.LoaderPath},
		CollectPath:     s.CollectPath,
		ConsentPath:     s.ConsentPath,
		PolicyVersion:   s.PolicyVersion,
		DefaultLanguage: s.DefaultLanguage,
		Languages:       s.Languages,
		Texts:           s.BannerTexts,
		Colors:          s.BannerColors,
		PrivacyURL:      s.PrivacyURL,
		ReopenLink:      s.ReopenLink,
		Platforms:       platforms,
	}
	for _, p := range s.PreviousPaths {
		if p.Kind == "loader" {
			c.LoaderPaths = append(c.LoaderPaths, p.Path)
		}
	}
	return c
}

// script is the config object the loader reads, with short keys (they
// ship in every loader).
type script struct {
	LoaderPaths []string                     `json:"lp"`
	Collect     string                       `json:"c"`
	Consent     string                       `json:"k"`
	Policy      string                       `json:"p"`
	Lang        string                       `json:"l"`
	Texts       map[string]map[string]string `json:"t"`
	Colors      scriptColors                 `json:"col"`
	Privacy     string                       `json:"pu,omitempty"`
	SPA         bool                         `json:"spa,omitempty"`
	ReopenLink  bool                         `json:"rl,omitempty"`
	Platforms   []string                     `json:"px"`
	ClientSide  []scriptPixel                `json:"cs,omitempty"`
}

// scriptPixel is a ClientPixel as the loader reads it.
type scriptPixel struct {
	Platform string            `json:"p"`
	URL      string            `json:"u"`
	ID       string            `json:"i"`
	Events   map[string]string `json:"e"`
	Custom   bool              `json:"c,omitempty"`
}

type scriptColors struct {
	Background string `json:"bg"`
	Text       string `json:"fg"`
	Button     string `json:"btn"`
	ButtonText string `json:"btnfg"`
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// resolve validates c and applies the defaults.
func (c LoaderConfig) resolve() (script, error) {
	var s script
	if len(c.LoaderPaths) == 0 {
		return s, invalid("loader_paths", "at least one")
	}
	for i, p := range c.LoaderPaths {
		if err := checkPath(p); err != nil {
			return s, invalid(fmt.Sprintf("loader_paths[%d]", i), "%v", err)
		}
	}
	for _, p := range []struct{ field, v string }{{"collect_path", c.CollectPath}, {"consent_path", c.ConsentPath}} {
		if err := checkPath(p.v); err != nil {
			return s, invalid(p.field, "%v", err)
		}
	}
	if c.CollectPath == c.ConsentPath || slices.Contains(c.LoaderPaths, c.CollectPath) || slices.Contains(c.LoaderPaths, c.ConsentPath) {
		return s, invalid("collect_path", "loader, collect and consent paths must differ")
	}
	s.LoaderPaths, s.Collect, s.Consent = c.LoaderPaths, c.CollectPath, c.ConsentPath

	s.Policy = c.PolicyVersion
	if s.Policy == "" {
		s.Policy = "1"
	}
	if !token(s.Policy, 64) {
		return s, invalid("policy_version", "must be 1-64 of [A-Za-z0-9._:-]")
	}

	langs := c.Languages
	if len(langs) == 0 {
		langs = []string{c.DefaultLanguage}
		if c.DefaultLanguage == "" {
			langs = []string{"en"}
		}
	}
	s.Lang = c.DefaultLanguage
	if s.Lang == "" {
		s.Lang = langs[0]
	}
	if !slices.Contains(langs, s.Lang) {
		return s, invalid("default_language", "%q is not among languages", s.Lang)
	}
	builtin := defaultTexts()
	s.Texts = make(map[string]map[string]string, len(langs))
	for i, l := range langs {
		if len(l) != 2 || !lower(l) {
			return s, invalid(fmt.Sprintf("languages[%d]", i), "must be a two-letter lowercase code")
		}
		t := make(map[string]string, len(textKeys))
		for _, k := range textKeys {
			v, ok := c.Texts[l][k]
			if !ok || v == "" {
				v, ok = builtin[l][k]
			}
			if !ok {
				return s, invalid("texts."+l+"."+k, "missing (no built-in text for %q)", l)
			}
			if utf8.RuneCountInString(v) > maxTextRunes {
				return s, invalid("texts."+l+"."+k, "at most %d characters", maxTextRunes)
			}
			t[k] = v
		}
		s.Texts[l] = t
	}

	col := defaultColors()
	for k, v := range c.Colors {
		if !slices.Contains(colorKeys[:], k) {
			continue // a key for the full banner (consent issue): not shipped yet
		}
		if !color(v) {
			return s, invalid("colors."+k, "must be #rgb, #rrggbb, #rrggbbaa or a colour name")
		}
		col[k] = v
	}
	s.Colors = scriptColors{col["background"], col["text"], col["button"], col["button_text"]}

	if c.PrivacyURL != "" {
		if err := checkPrivacy(c.PrivacyURL); err != nil {
			return s, invalid("privacy_url", "%v", err)
		}
		s.Privacy = c.PrivacyURL
	}
	s.SPA = c.SPA
	s.ReopenLink = c.ReopenLink

	s.Platforms = []string{}
	for i, p := range c.Platforms {
		if !slices.Contains(knownPlatforms[:], p) {
			return s, invalid(fmt.Sprintf("platforms[%d]", i), "unknown platform %q", p)
		}
		if !slices.Contains(s.Platforms, p) {
			s.Platforms = append(s.Platforms, p)
		}
	}
	slices.Sort(s.Platforms)

	if len(c.ClientSide) > 32 {
		return s, invalid("client_side", "at most 32 pixels")
	}
	for i, p := range c.ClientSide {
		f := fmt.Sprintf("client_side[%d]", i)
		u := TagURL(p.Platform, p.ID)
		if u == "" {
			return s, invalid(f+".platform", "unknown platform %q", p.Platform)
		}
		if !idToken(p.ID) {
			return s, invalid(f+".id", "must be 1-64 of [A-Za-z0-9_-]")
		}
		if len(p.Events) > 128 {
			return s, invalid(f+".events", "at most 128 events")
		}
		ev := make(map[string]string, len(p.Events))
		for k, v := range p.Events {
			if !token(k, 64) || v != "" && !token(v, 100) {
				return s, invalid(f+".events", "names must be 1-64 and values 0-100 of [A-Za-z0-9._:-]")
			}
			ev[k] = v
		}
		s.ClientSide = append(s.ClientSide, scriptPixel{Platform: p.Platform, URL: u, ID: p.ID, Events: ev, Custom: p.Custom})
	}
	return s, nil
}

func idToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkPath(p string) error {
	if len(p) < 2 || len(p) > 128 || p[0] != '/' || strings.HasPrefix(p, "//") {
		return errors.New("must be / and 1-127 more bytes, not //")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-') {
			return errors.New("only [A-Za-z0-9/._-] allowed")
		}
	}
	if f := Fingerprint(p); f != "" {
		return fmt.Errorf("contains %q, a fingerprint ad blockers match", f)
	}
	return nil
}

func checkPrivacy(v string) error {
	if len(v) > 2048 {
		return errors.New("at most 2048 bytes")
	}
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL or a path")
	}
	return nil
}

func token(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func lower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

func color(v string) bool {
	if len(v) > 0 && v[0] == '#' {
		switch len(v) {
		case 4, 7, 9:
		default:
			return false
		}
		for i := 1; i < len(v); i++ {
			c := v[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	return len(v) >= 3 && len(v) <= 20 && lower(v)
}
