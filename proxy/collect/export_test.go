package collect

// TooManyEvents exposes the pre-parse event counter to the external tests.
func TooManyEvents(b []byte, maxEvents int) bool {
	return prescan(b, maxEvents, 1<<30) == prescanTooManyEvents
}
