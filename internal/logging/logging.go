// Package logging builds pixelgw's log/slog loggers: JSON or text output,
// request ids taken from the context, and a handler that redacts secrets
// (secret-looking attribute keys, URL credentials and query strings) before
// anything reaches the output.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// RedactedValue replaces every redacted value.
const RedactedValue = "[redacted]"

// RequestIDKey is the attribute key the handler adds from the context.
const RequestIDKey = "request_id"

// New returns a logger writing to w at level (debug, info, warn, error) in
// format (json, text), wrapped in the redacting handler.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q is not one of json, text", format)
	}
	return slog.New(NewHandler(h)), nil
}

// ParseLevel parses debug, info, warn or error.
func ParseLevel(level string) (slog.Level, error) {
	switch level {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("log level %q is not one of debug, info, warn, error", level)
	}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id; loggers built by New add
// it as request_id to records logged with the *Context methods.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
