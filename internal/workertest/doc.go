// Package workertest holds the multi-process acceptance tests of the
// standalone worker (examples/worker): real worker processes against a real
// redis-server, SIGKILLed and restarted at random, or stopped with SIGTERM
// while they hold work. It has no non-test code; the tests build the worker
// binary once per run and drive it through its flags, environment, signals,
// record files and JSON logs, as an operator would.
package workertest
