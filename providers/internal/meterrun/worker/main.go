// Command worker is one worker process of the meter acceptance tests; see
// package meterrun. When its spec lists deployments it runs a Router over
// several fake servers instead of one BatchProcessor.
package main

import (
	"os"

	"github.com/llmqueue/llmqueue/providers/internal/meterrun"
)

func main() {
	spec := os.Getenv(meterrun.Env)
	if meterrun.IsRouter(spec) {
		os.Exit(meterrun.RunRouter(spec))
	}
	os.Exit(meterrun.Run(spec))
}
