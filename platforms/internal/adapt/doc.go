// Package adapt holds what the LinkedIn, TikTok and X adapters share:
// reading and redacting answers, Retry-After, error classification helpers
// and reading custom-data props.
package adapt
