# kcplab: see README.md.
#
# Run make as yourself, not under sudo. It builds as you, and uses sudo (only when you are not root)
# for two things: installing the Debian packages it needs, and granting the built binary the capability
# to capture packets (setcap cap_net_raw, as Wireshark's dumpcap is installed). Everything it writes in
# the tree is yours: bin/ and out/. The committed RESULTS.md and testdata/ change only with
# `make results-update`.
GO       ?= go
# Trials per experiment; 0: each experiment's own (200, fewer for experiments whose timers run long).
TRIALS   ?= 0
# Trials of one experiment running at once: verdicts do not depend on a quiet machine (see README).
PARALLEL ?= 25
# Extra go test flags for `make test`, e.g. TESTFLAGS='-run TestList -count=1' for a quick check.
TESTFLAGS ?=
MATRIX_TRIALS ?= 25
PAIR_TRIALS   ?= 20
# The peers and experiments of `make matrix`'s last pairs run: the C reference against the default
# releases, on the experiments whose roles are scripts.
IMPL_PEERS ?= seed,v5.6.1,v5.6.24,v5.6.72,v5.7.6,ikcp
IMPL_IDS   ?= p001 p002 p003 p003-linger
# kcp-go releases `make matrix` measures with `kcplab crosstalk` (the matrix's defaults).
CROSSTALK_VERSIONS ?= seed,v5.6.1,v5.6.24,v5.6.72,v5.7.6
# Seconds per release: v5.7.6 crossed 0 to 13 datagrams in each of four 10 s runs; 30 s makes a 0 rarer.
CROSSTALK_SECONDS ?= 30
# The peers `make claims` also runs test.cpp's mode table on: the C reference, and the seed's kcp-go.
CLAIMS_PEERS ?= ikcp,seed
# Trials per experiment, placement and run, and runs per placement, of `make claims`'s p001 and p003
# between two hosts over veth and on loopback (200 trials a placement).
HOSTS_TRIALS ?= 50
HOSTS_RUNS ?= 4
BIN      := bin/kcplab
CAPS     := cap_net_raw=eip
# Debian keeps setcap and getcap in /usr/sbin, which a normal user's PATH lacks.
export PATH := $(PATH):/usr/sbin:/sbin
IS_ROOT  := $(filter 0,$(shell id -u))
SUDO     := $(if $(IS_ROOT),,sudo)
# Debian packages: libpcap-dev (live capture, build tag pcap), gcc (cgo for libpcap, go test -race),
# tshark (the dissector's tests), libcap2-bin (setcap).
DEB_PKGS := libpcap-dev libc6-dev gcc tshark libcap2-bin
# go test -exec wrapper that gives the test binary the capture capability (tools/capexec).
CAPEXEC  := $(CURDIR)/tools/capexec
# What RESULTS.md credits.
CREDIT    = make $@$(if $(filter command line,$(origin TRIALS)), TRIALS=$(TRIALS))$(if $(filter command line,$(origin PARALLEL)), PARALLEL=$(PARALLEL))

.NOTPARALLEL:

.PHONY: all test vet unit ikcp-test live-test capture results results-update run build caps deps deb-deps ikcp-peer not-sudo bench fuzz matrix claims clean

all: test

## test: go vet, then every test with the race detector, then the live-capture tests (libpcap on lo).
test: not-sudo deps vet unit ikcp-test live-test

vet:
	$(GO) vet ./...

# Packages run two at a time (go test's default -p on 2 cores): verdicts do not depend on a quiet
# machine. The experiments run without -race: the race detector multiplies the cost of every goroutine
# hop in kcp-go, and with both cores busy it delayed a fifth of the update ticks past tolerance
# (measured: p004-keepalive, 5 of 15 values unexplained by any stall), which measures the detector, not
# kcp-go. The harness's own code runs under -race in its package's tests (runs, Env, peers, links).
# -count=1: experiments are measurements; a cached pass is not one.
# The two run side by side (the experiments' verdicts hold with both cores busy, the claim the README's
# Timing section makes and its tests check); the race run's output comes first, then the experiments'.
unit:
	@log=$$(mktemp); set -x; $(GO) test -race $(TESTFLAGS) $$($(GO) list ./... | grep -v /experiments$$) & race=$$!; \
	$(GO) test -count=1 $(TESTFLAGS) ./experiments > $$log 2>&1; exp=$$?; \
	wait $$race; rc=$$?; cat $$log; rm -f $$log; \
	[ $$rc -eq 0 ] && [ $$exp -eq 0 ]

# The C reference's peer's own tests (node --test); they skip when node-kcp is not built.
ikcp-test:
	@if command -v node >/dev/null; then set -x; cd peers/ikcp && node --test; \
	else echo "ikcp-test: skipped (no node: make deps installs it)"; fi

# Live capture: built with -tags pcap (libpcap-dev), run through tools/capexec, which gives a normal
# user's test binary CAP_NET_RAW with sudo setcap (root needs nothing). Without libpcap it is skipped;
# without the capability the live tests skip themselves.
live-test:
	@if [ ! -e /usr/include/pcap.h ] && [ ! -e /usr/include/pcap/pcap.h ]; then \
		echo "live-test: skipped (no libpcap headers; 'make deps' installs libpcap-dev)"; exit 0; fi; \
	if [ -z "$(IS_ROOT)" ] && command -v sudo >/dev/null; then sudo -v || true; fi; \
	log=$$(mktemp); set -x; \
	$(GO) vet -tags pcap ./... || exit $$?; \
	$(GO) test -race -tags pcap -exec $(CAPEXEC) $(TESTFLAGS) ./capture -run 'Live|Hub|Barrier' & cap=$$!; \
	$(GO) test -count=1 -tags pcap -exec $(CAPEXEC) $(TESTFLAGS) ./experiments -kcplab.capture=live \
		-run 'TestExperiments|TestLiveMatchesTapOnP003|TestStalledMachine$$' > $$log 2>&1; exp=$$?; \
	wait $$cap; rc=$$?; cat $$log; rm -f $$log; \
	[ $$rc -eq 0 ] && [ $$exp -eq 0 ]
# The capture's tests and the experiments run side by side, as in `unit`, the capture's output first;
# sudo asks for its password once, before them (capexec's setcap). TestStalledMachine$: its sibling
# TestStalledMachineSeesAUniformShift runs the tap in any case, and ran in `unit`.
# (The tap's tests, the leak and timing-verdict tests do not depend on libpcap: they ran in `unit`.)
# The experiments run without -race: they measure timing, and the race detector's slowdown of kcp-go's
# goroutine hops, added to the libpcap reader's, moves segments by more than the protocol's tolerance
# (seen: a client ACK 4.3 ms after the datagram it answers). The same code runs under -race in `unit`.

## build: bin/kcplab, with live capture (-tags pcap) when libpcap-dev is installed.
build:
	@mkdir -p bin; tags=; \
	if [ -e /usr/include/pcap.h ] || [ -e /usr/include/pcap/pcap.h ]; then tags=-tags=pcap; fi; \
	echo "$(GO) build $$tags -o $(BIN) ./cmd/kcplab"; \
	$(GO) build $$tags -o $(BIN) ./cmd/kcplab

## caps: let bin/kcplab capture packets without root: sudo setcap cap_net_raw (enough for lo).
## The binary is made 0700 first: whoever can run it can capture on every interface.
caps: build
	@if [ -n "$(IS_ROOT)" ] || getcap $(BIN) | grep -q cap_net_raw; then exit 0; fi; \
	if ! command -v sudo >/dev/null; then \
		echo "make caps: live capture needs root or CAP_NET_RAW, and sudo is not installed: run make as root" >&2; exit 2; fi; \
	chmod 0700 $(BIN); \
	echo "sudo setcap $(CAPS) $(BIN)"; sudo setcap $(CAPS) $(BIN) || exit 2; \
	if findmnt -no OPTIONS -T $(BIN) 2>/dev/null | grep -qw nosuid; then \
		echo "make caps: warning: $(BIN) is on a nosuid mount, where file capabilities are ignored: run make as root, or clone elsewhere" >&2; fi

## capture: the main job: every experiment with live libpcap capture on lo. Writes out/ID/trial-NNN.pcapng
## and out/ID/summary.json, and out/RESULTS.md and out/testdata/ID/CLASS.pcapng (one capture per class) with
## the run's counts, out/testdata/matrix.json: `make results-update` copies them over the committed
## RESULTS.md and testdata/. It ends with the classes whose share moved against the committed run.
capture: not-sudo deps caps
	@rm -f out/RESULTS.ok
	$(BIN) results -capture live -trials $(TRIALS) -parallel $(PARALLEL) -out out -from RESULTS.md -command "$(CREDIT)"
	@sha256sum out/RESULTS.md out/testdata/matrix.json > out/RESULTS.ok
	@$(COMPARE_COMMITTED)
	@echo "every trial fit a class; to update the committed RESULTS.md and testdata/: make results-update"

# What moved against the committed run: the classes whose share differs from RESULTS.md's at p < 0.05
# on its own (exit status 1 there is a finding, not a failure). A class a Close race decides moves
# from run to run more than one run's counts show (RESULTS.md, p003), so compare several runs a side.
COMPARE_COMMITTED = if [ -f testdata/matrix.json ]; then \
	echo "this run against RESULTS.md's ($(BIN) compare -changes testdata out; a Close race's classes move between sittings, RESULTS.md p003):"; \
	$(BIN) compare -changes testdata out || [ $$? -eq 1 ]; fi

## results: the same with the in-process tap (no root, no libpcap).
results: not-sudo build
	@rm -f out/RESULTS.ok
	$(BIN) results -trials $(TRIALS) -parallel $(PARALLEL) -out out -from RESULTS.md -command "$(CREDIT)"
	@sha256sum out/RESULTS.md out/testdata/matrix.json > out/RESULTS.ok
	@$(COMPARE_COMMITTED)
	@echo "every trial fit a class; to update the committed RESULTS.md and testdata/: make results-update"

## results-update: copy out/RESULTS.md and out/testdata/ from the last `make capture` or `make results`
## over the committed RESULTS.md and testdata/, only if every trial of that run fit a class.
# Charts are laid over the committed ones, not swapped for them: a make matrix run without make claims
# has no claims charts, and the sections of RESULTS.md it did not rewrite still link theirs.
results-update:
	@[ -f out/RESULTS.md ] || { echo "make results-update: no out/RESULTS.md: run make capture first" >&2; exit 2; }
	@[ -f out/testdata/matrix.json ] || { echo "make results-update: no out/testdata/matrix.json (the run's counts): run make capture again" >&2; exit 2; }
	@sha256sum --status -c out/RESULTS.ok 2>/dev/null || { \
		echo "make results-update: out/RESULTS.md comes from a run that had failed trials or did not finish: not copied" >&2; exit 1; }
	@grep -o 'Last written by `[^`]*`' out/RESULTS.md || true
	cp out/RESULTS.md RESULTS.md
	mkdir -p testdata && cp out/testdata/matrix.json testdata/matrix.json
	@for d in out/testdata/*/; do \
		[ -d "$$d" ] || continue; id=$$(basename "$$d"); \
		rm -rf "testdata/$$id" && mkdir -p testdata && cp -R "$$d" "testdata/$$id" && echo "testdata/$$id: $$(ls "$$d" | wc -l) captures"; \
	done
	@if [ -d out/charts ]; then mkdir -p charts && cp -R out/charts/. charts/ && echo "charts: $$(ls out/charts | wc -l) charts copied"; fi
	@git status --short -- RESULTS.md testdata charts 2>/dev/null || true

## run: every experiment at its default trial count, tap capture, pcapng under out/.
run: build
	$(BIN) run -out out

## bench: decoding (kcpwire, pcapfile, the whole decode path file to output in cmd/kcplab), capture, link.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./kcpwire ./pcapfile ./capture ./cmd/kcplab ./link

fuzz:
	$(GO) test ./kcpwire -run '^$$' -fuzz FuzzDecode -fuzztime 5m
	$(GO) test ./pcapfile -run '^$$' -fuzz FuzzRead -fuzztime 5m
	$(GO) test ./internal/kcpseq -run '^$$' -fuzz FuzzAnalysis -fuzztime 5m

## matrix: every experiment against the seed's kcp-go (v5.4.20), v5.6.1, v5.6.24, v5.6.72 and v5.7.6, one
## process per release (built once, cached under ~/.cache/kcplab), then p001 and p003 over the 25 client x
## server pairs (each role in a `kcplab peer` process of its release), then the C reference (peers/ikcp)
## against each release in both roles on p001, p002, p003 and p003-linger, then `kcplab crosstalk` on each release
## (30 s each); writes out/matrix/, and the matrix
## section of out/RESULTS.md with out/charts/ (run it after `make capture`; `make results-update` copies them).
matrix: not-sudo build ikcp-peer
	@ok=; sha256sum --status -c out/RESULTS.ok 2>/dev/null && ok=1; \
	echo "$(BIN) matrix -trials $(MATRIX_TRIALS) -parallel $(PARALLEL) -out out/matrix -results out/RESULTS.md"; \
	$(BIN) matrix -trials $(MATRIX_TRIALS) -parallel $(PARALLEL) -out out/matrix -results out/RESULTS.md || exit $$?; \
	echo "$(BIN) matrix -pairs -trials $(PAIR_TRIALS) -parallel 10 -out out/matrix -results out/RESULTS.md"; \
	$(BIN) matrix -pairs -trials $(PAIR_TRIALS) -parallel 10 -out out/matrix -results out/RESULTS.md || exit $$?; \
	echo "$(BIN) matrix -pairs -across -peers $(IMPL_PEERS) -trials $(PAIR_TRIALS) -parallel 10 -out out/implementations -results out/RESULTS.md $(IMPL_IDS)"; \
	$(BIN) matrix -pairs -across -peers $(IMPL_PEERS) -trials $(PAIR_TRIALS) -parallel 10 -out out/implementations -results out/RESULTS.md $(IMPL_IDS) || exit $$?; \
	echo "$(BIN) crosstalk -seconds $(CROSSTALK_SECONDS) -versions $(CROSSTALK_VERSIONS) -results out/RESULTS.md"; \
	$(BIN) crosstalk -seconds $(CROSSTALK_SECONDS) -versions $(CROSSTALK_VERSIONS) -results out/RESULTS.md || exit $$?; \
	if [ -n "$$ok" ]; then sha256sum out/RESULTS.md out/testdata/matrix.json > out/RESULTS.ok; fi

## claims: KCP's published claims measured (claims/): test.cpp's mode table on a loopback link (kcp-go,
## and the peers of CLAIMS_PEERS), and KCP against kernel TCP between two network namespaces joined by
## TUN devices through kcplab's link; then p001 and p003 with each peer on a host of its own over veth
## against loopback (kcplab hosts). Needs root: through sudo when you are not. Writes
## out/testdata/claims/ (claims.json, one pcapng per kept workload), out/charts/claims-*.png, and the
## claims and hosts sections of out/RESULTS.md (run it after `make capture`; `make results-update`
## copies them).
claims: not-sudo build ikcp-peer
	@ok=; sha256sum --status -c out/RESULTS.ok 2>/dev/null && ok=1; \
	mkdir -p out; [ -f out/RESULTS.md ] || cp RESULTS.md out/RESULTS.md; \
	echo "$(SUDO) $(BIN) claims -hosts on -peers $(CLAIMS_PEERS) -out out/testdata/claims -charts out/charts -results out/RESULTS.md"; \
	$(SUDO) $(BIN) claims -hosts on -peers $(CLAIMS_PEERS) -out out/testdata/claims -charts out/charts -results out/RESULTS.md -command "$(CREDIT)"; st=$$?; \
	if [ $$st -eq 0 ]; then \
		echo "$(SUDO) $(BIN) hosts -trials $(HOSTS_TRIALS) -runs $(HOSTS_RUNS) -out out/hosts -results out/RESULTS.md"; \
		$(SUDO) $(BIN) hosts -trials $(HOSTS_TRIALS) -runs $(HOSTS_RUNS) -out out/hosts -results out/RESULTS.md; st=$$?; fi; \
	if [ -z "$(IS_ROOT)" ]; then sudo chown -R $$(id -u):$$(id -g) out; fi; \
	[ $$st -eq 0 ] || exit $$st; \
	if [ -n "$$ok" ]; then sha256sum out/RESULTS.md out/testdata/matrix.json > out/RESULTS.ok; fi

## deps: the Debian packages above, with apt-get (through sudo unless root) when one is missing, then the
## C reference's peer (peers/ikcp/build.sh: Node.js and npm where missing, node-kcp's ikcp.c built with
## node-gyp). Without that peer, its tests skip with the reason and matrix -pairs cannot name ikcp.
deps: deb-deps ikcp-peer

ikcp-peer:
	@peers/ikcp/build.sh || echo "make deps: warning: the C reference's peer (peers/ikcp) could not be built (above); its tests will skip" >&2

deb-deps:
	@missing=; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] && exit 0; \
	if ! command -v apt-get >/dev/null; then \
		echo "make deps: install these (Debian names) with your package manager:$$missing" >&2; exit 2; fi; \
	if [ -z "$(IS_ROOT)" ] && ! command -v sudo >/dev/null; then \
		echo "make deps: need root to install$$missing: run make as root, or install sudo" >&2; exit 2; fi; \
	echo "installing$$missing"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing

# `sudo make ...` would build and write the tree as root (and sudo's PATH has no go): refuse it.
not-sudo:
	@if [ -n "$(IS_ROOT)" ] && [ -n "$$SUDO_USER" ] && [ "$$SUDO_USER" != root ]; then \
		echo "run make as yourself ($$SUDO_USER), not with sudo: it uses sudo itself for apt-get and setcap only" >&2; exit 2; fi

## clean: remove what make writes (bin/ and out/). Files an old `sudo make capture` left: sudo make clean.
clean:
	rm -rf out bin kcplab
