// Package adapt holds what the platform adapters share: their common
// config settings, encoding a batch event by event and remapping the
// result, the JSON POST and reading and redacting answers, Retry-After and
// event time, error classification helpers and reading custom-data props.
package adapt
