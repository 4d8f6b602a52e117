package collect

// TooManyEvents exposes the pre-parse event counter to the external tests.
var TooManyEvents = tooManyEvents
