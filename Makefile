# kcplab: see README.md.
GO       ?= go
TRIALS   ?= 200
PARALLEL ?= 4
KCPLAB   := $(GO) run ./cmd/kcplab
HAVE_PCAP := $(wildcard /usr/include/pcap.h /usr/include/pcap/pcap.h)

.PHONY: all test vet unit live-test capture results run bench fuzz deps clean

all: test

## test: go vet, then every test with the race detector; the live-capture tests too when libpcap is there.
test: vet unit live-test

vet:
	$(GO) vet ./...

# -p 1: one package at a time, so the experiments' timing never competes with another package's
# bulk transfer or tshark runs for the CPU.
unit:
	$(GO) test -race -p 1 ./...

# Live capture needs libpcap-dev (build tag pcap) and root; the tests skip themselves without root.
live-test:
ifneq ($(HAVE_PCAP),)
	$(GO) vet -tags pcap ./...
	$(GO) test -race -tags pcap ./capture
	# Without -race: the experiments measure timing, and the race detector's slowdown of kcp-go's
	# goroutine hops, added to the libpcap reader's, moves segments by more than the protocol's
	# tolerance (seen: a client ACK 4.3 ms after the datagram it answers). The same code runs under
	# -race in the tap run above.
	$(GO) test -tags pcap ./experiments -kcplab.capture=live
else
	@echo "live-test: skipped (no libpcap headers; 'make deps' installs libpcap-dev)"
endif

## capture: the main job for root: every experiment with live libpcap capture; pcapng files for every
## trial under out/, one per class under testdata/, and RESULTS.md regenerated.
capture: deps
	$(GO) run -tags pcap ./cmd/kcplab results -capture live -trials $(TRIALS) -parallel $(PARALLEL) \
		-out out -testdata testdata -o RESULTS.md -command "make capture"

## results: the same with the in-process tap (no root, no libpcap).
results:
	$(KCPLAB) results -trials $(TRIALS) -parallel $(PARALLEL) -out out -testdata testdata -o RESULTS.md \
		-command "make results"

## run: every experiment at its default trial count, tap capture, pcapng under out/.
run:
	$(KCPLAB) run -out out

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./kcpwire ./capture

fuzz:
	$(GO) test ./kcpwire -run '^$$' -fuzz FuzzDecode -fuzztime 5m

## deps: Debian packages for live capture and the dissector tests (libpcap-dev, tshark); needs root.
deps:
	@if [ -e /usr/include/pcap.h ] && command -v tshark >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install libpcap-dev and tshark: sudo make capture" >&2; exit 2; fi; \
	export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq libpcap-dev tshark

clean:
	rm -rf out kcplab
