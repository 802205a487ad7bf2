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

# test runs the race suite and the acceptance runs (./providers: the meter
# and router runs at a provider's limit, the bursts and cool-downs) side by
# side. The acceptance runs mostly wait on budget windows (about 50 s of CPU
# in 2 minutes); they time fake providers against the queue's 100 ms
# margin, and held it with the race suite compiling beside them and another
# `go test` keeping both cores busy (make test under load, 3 runs in a
# row). An earlier Makefile compiled the race suite in a pass of its own
# first, which linked every test binary twice (49 s of a warm run); running
# the race suite under `nice` instead starved its own timing tests when
# something else kept the cores busy.
#
# -parallel and -p: the acceptance tests share meterSlots (6 runs at once),
# so all of them may start; the root tests that start their own servers
# (redistest.Each: miniredis, redis-server and a 3-node cluster) run 8 at
# once, and 4 test binaries run at once: they mostly wait on server
# start-up and budget windows (the race suite used 42% of the 2 cores with
# -p 2). Warm, on this 2-core machine: 171 s, from 276-300 s.
#
# -vet=all: go test runs every go vet check on each package it tests, so
# the dependencies' vet facts are computed once; a separate `go vet ./...`
# computed them a second time with another set of checks, 2.4 of the
# suite's minutes on a cold 2-core machine. Every package has tests except
# the meter worker's 10-line main; `make lint` vets everything.
test:
	$(GO) test -vet=all -count=1 -run '^$$' ./providers
	@out=$$(mktemp); \
	$(GO) test -vet=all -count=1 -parallel 16 -timeout 15m ./providers >$$out 2>&1 & acc=$$!; \
	$(GO) test -race -vet=all -count=1 -p 4 -parallel 8 -timeout 15m $(RACE_PKGS); race=$$?; \
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
