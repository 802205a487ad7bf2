package providers_test

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(meterWorkerEnv); spec != "" {
		os.Exit(runMeterWorker(spec))
	}
	os.Exit(m.Run())
}
