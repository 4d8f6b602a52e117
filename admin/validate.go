package admin

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

var (
	slugRe      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	labelRe     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	colorKeyRe  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	colorRe     = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	textKeyRe   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	policyVerRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// bannerLanguages are the banner's languages.
var bannerLanguages = []string{"es", "en", "pt"}

// validHostname reports whether h is a lowercase ASCII DNS hostname with at
// least two labels, no port, no trailing dot, and not an IP address.
func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 || net.ParseIP(h) != nil {
		return false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	// The top-level label is never all digits.
	return strings.TrimLeft(labels[len(labels)-1], "0123456789") != ""
}

// checkText rejects empty (if required), over-long or control-character text.
func checkText(field, s string, required bool, max int) error {
	if s == "" {
		if required {
			return fieldError(field, "required")
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return fieldError(field, "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fieldError(field, "%d characters, at most %d", n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fieldError(field, "contains a control character")
		}
	}
	return nil
}

// validateSettings checks a tenant's settings document. previous_paths is
// not checked here: clients cannot set it (see checkPreviousPaths).
func validateSettings(s store.TenantSettings) error {
	if s.DefaultLanguage != "" && !slices.Contains(bannerLanguages, s.DefaultLanguage) {
		return fieldError("settings.default_language", "must be one of es, en, pt")
	}
	seen := map[string]bool{}
	for i, l := range s.Languages {
		if !slices.Contains(bannerLanguages, l) {
			return fieldError("settings.languages["+strconv.Itoa(i)+"]", "must be one of es, en, pt")
		}
		if seen[l] {
			return fieldError("settings.languages["+strconv.Itoa(i)+"]", "duplicate language %q", l)
		}
		seen[l] = true
	}
	if s.DefaultLanguage != "" && len(s.Languages) > 0 && !seen[s.DefaultLanguage] {
		return fieldError("settings.default_language", "must be one of settings.languages")
	}
	if s.PrivacyURL != "" {
		u, err := url.Parse(s.PrivacyURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(s.PrivacyURL) > 2048 {
			return fieldError("settings.privacy_url", "must be an absolute http(s) URL")
		}
	}
	if s.PolicyVersion != "" && !policyVerRe.MatchString(s.PolicyVersion) {
		return fieldError("settings.policy_version", "must be 1-64 of [A-Za-z0-9._-]")
	}
	if len(s.BannerColors) > 32 {
		return fieldError("settings.banner_colors", "at most 32 colours")
	}
	for k, v := range s.BannerColors {
		if !colorKeyRe.MatchString(k) {
			return fieldError("settings.banner_colors", "key %q must match [a-z][a-z0-9_]{0,31}", k)
		}
		if !colorRe.MatchString(v) {
			return fieldError("settings.banner_colors."+k, "must be a hex colour like #1a2b3c")
		}
	}
	for lang, texts := range s.BannerTexts {
		if !slices.Contains(bannerLanguages, lang) {
			return fieldError("settings.banner_texts", "language %q must be one of es, en, pt", lang)
		}
		if len(texts) > 64 {
			return fieldError("settings.banner_texts."+lang, "at most 64 texts")
		}
		for k, v := range texts {
			if !textKeyRe.MatchString(k) {
				return fieldError("settings.banner_texts."+lang, "key %q must match [a-z][a-z0-9_]{0,63}", k)
			}
			if err := checkTextML("settings.banner_texts."+lang+"."+k, v, 2000); err != nil {
				return err
			}
		}
	}
	if len(s.Sites) > 100 {
		return fieldError("settings.sites", "at most 100 sites")
	}
	// The edge fields are checked by the edge's own rules, so a document
	// accepted here is never skipped by the edge snapshot.
	if err := tenant.CheckSettings(s); err != nil {
		var fe *tenant.FieldError
		if errors.As(err, &fe) {
			return fieldError(fe.Field, "%s", fe.Err.Error())
		}
		return fieldError("settings", "%s", err.Error())
	}
	return nil
}

// checkTextML is checkText allowing newlines.
func checkTextML(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fieldError(field, "not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fieldError(field, "%d characters, at most %d", n, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return fieldError(field, "contains a control character")
		}
	}
	return nil
}

// checkPreviousPaths refuses a client-supplied change to previous_paths:
// only path rotation writes it. Sending back the current value (a GET
// round-trip) is accepted.
func checkPreviousPaths(cur, next []store.PreviousPath) error {
	if !slices.EqualFunc(cur, next, func(a, b store.PreviousPath) bool {
		return a.Kind == b.Kind && a.Path == b.Path && a.Until.Equal(b.Until)
	}) {
		return fieldError("settings.previous_paths", "read-only: set by path rotation")
	}
	return nil
}
