// Package server wires herald together: the store named by the
// configuration and its one environment cache, the environments service,
// the egress client, the dispatcher, the intake service and the API, run
// until the context ends and then shut down gracefully. The serve command
// and the benchmark both start herald through it. Parts to come (telemetry,
// the console) are built here and mounted on the API's root mux.
package server
