# Targets for developers and CI. `make test` is what .ci/run runs.

GO ?= go
# FUZZTIME is how long each Fuzz target runs under `make fuzz`.
FUZZTIME ?= 60s
# FUZZMINIMIZETIME caps minimizing each new input; the default (60s) can
# spend a whole FUZZTIME minimizing instead of fuzzing.
FUZZMINIMIZETIME ?= 5s

.PHONY: test lint bench fuzz

# RACE_PKGS is every package but ./providers, whose acceptance runs (the
# meter and router runs at a provider's limit) run without the race
# detector: they time fake providers against the queue's 100 ms margin, and
# race instrumentation slowed the fake servers' handlers by up to 150 ms, a
# delay of the harness, not of the queue. Everything they drive runs with
# -race in the other packages' tests (the root package, the adapters,
# providertest), and their worker processes were never race builds.
RACE_PKGS = $$($(GO) list ./... | grep -v '/providers$$')

# test builds and vets everything first, then runs the race suite and the
# acceptance runs side by side: those mostly wait on budget windows (50 s
# of CPU in 3.5 minutes), and once nothing is compiling, the race suite
# beside them left every margin as it was alone (the least utilization
# 97.2%, the busiest window 1.000 x the limit, no 429).
#
# -parallel 4: the root tests that start their own servers (redistest.Each:
# miniredis, redis-server and a 3-node cluster) run in parallel; they mostly
# wait on cluster start-up and budget windows.
#
# -vet=all: go test runs every go vet check on each package it tests, so
# the dependencies' vet facts are computed once; a separate `go vet ./...`
# computed them a second time with another set of checks, 2.4 of the
# suite's minutes on a cold 2-core machine. Every package has tests except
# the meter worker's 10-line main; `make lint` vets everything.
test:
	$(GO) test -race -vet=all -count=1 -run '^$$' $(RACE_PKGS)
	$(GO) test -vet=all -count=1 -run '^$$' ./providers
	@out=$$(mktemp); \
	$(GO) test -vet=all -count=1 -timeout 15m ./providers >$$out 2>&1 & acc=$$!; \
	$(GO) test -race -vet=all -count=1 -parallel 4 -timeout 15m $(RACE_PKGS); race=$$?; \
	wait $$acc; accrc=$$?; cat $$out; rm -f $$out; \
	test $$race -eq 0 && test $$accrc -eq 0

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l reports unformatted files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Placeholder: runs every benchmark once.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

# Runs each Fuzz target (go test -fuzz takes one target per run) for FUZZTIME.
fuzz:
	@set -e; status=0; \
	list=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$list" | grep -v '^Fuzz'; echo "fuzz: some packages failed to list; fuzzing the rest"; status=1; }; \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { f[n++] = $$1; next } /^ok / { for (i = 0; i < n; i++) print $$2 "," f[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "no Fuzz targets found"; exit $$status; fi; \
	for t in $$targets; do \
		pkg=$${t%%,*}; fn=$${t#*,}; \
		echo "== fuzz $$pkg $$fn for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	done; \
	exit $$status
