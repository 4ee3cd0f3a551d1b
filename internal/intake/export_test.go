package intake

// ForwardBody exposes forwardBody to the external tests.
var ForwardBody = forwardBody
