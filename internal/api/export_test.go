package api

// ConcurrentBatches is how many batches are parsed at once, for the tests
// that hold that many uploads open.
var ConcurrentBatches = concurrentBatches
