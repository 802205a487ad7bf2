// Command worker is one worker process of the meter acceptance tests; see
// package meterrun.
package main

import (
	"os"

	"github.com/llmqueue/llmqueue/providers/internal/meterrun"
)

func main() { os.Exit(meterrun.Run(os.Getenv(meterrun.Env))) }
