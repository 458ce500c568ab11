# flowbox — see README.md. Two commands matter on a fresh machine:
#   make run    runs the appliance on its embedded default config (no NIC, no root)
#   make test   runs every test (CI calls this through .ci/run)
GO       ?= go
GOFLAGS  ?=
export CGO_ENABLED = 0
BIN      := bin
PKGS     := ./...
# Packages with cross-thread code, also run under the race detector.
RACE_PKGS := ./appliance/runtime/ ./appliance/packet/ ./elements/standard/

.PHONY: all build run test test-deps test-race bench bench-io lint fuzz clean install firmware

all: build

build:
	$(GO) build $(GOFLAGS) -o $(BIN)/flowbox ./appliance/cmd/flowbox
	@if [ -d tracebox/cmd/tracebox ]; then $(GO) build $(GOFLAGS) -o $(BIN)/tracebox ./tracebox/cmd/tracebox; fi

run: build
	$(BIN)/flowbox run --monitor 1s

# test-deps installs the system tools the network tests use (ip, nft,
# iptables, tcpdump-free). It only acts when a tool is missing and we are
# root, so it is a no-op on a prepared machine.
test-deps:
	@./.ci/install-test-deps

test: test-deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)
	CGO_ENABLED=1 $(GO) test -count=1 -race -timeout 10m $(RACE_PKGS)

# Benchmarks print an Mpps table (one core); see docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 1 ./tests/bench/ | tee /tmp/flowbox-bench.txt | $(GO) run ./tests/benchtable

# On-wire benchmark (root; namespaces fbxb*, ~7 min): gen -> dut -> sink over
# veth; delivered Mpps and CPU-1 time per packet for the kernel, bare
# AF_XDP/TPACKET loops (the latter also with XDP load shedding), two
# one-syscall-per-packet forwarders (mdlayher/packet as in io-limits.md, and
# raw syscalls) and flowbox METHOD XDP/PACKET (PACKET also with SHED true), in layout A (the forwarder's core also does the input's receive
# work: forwarder-bound) and B (default veth), plus a paced-load ladder
# (capacity, collapse under overload) in A.
# Options: make bench-io IOBENCH_FLAGS='-layout A -reps 1 -sizes 64 -overload=false -v'
#          (-fwd and -ladder-fwd pick forwarders; `go run ./tests/iobench -h` lists every flag)
IOBENCH_FLAGS ?=
bench-io:
	$(GO) run ./tests/iobench $(IOBENCH_FLAGS)

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet $(PKGS)

# Longer fuzzing by hand: make fuzz FUZZ=FuzzParse PKG=./appliance/lang FUZZTIME=60s
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '$(FUZZ)' -fuzztime $(FUZZTIME) $(PKG)

clean:
	rm -rf $(BIN)

# install puts the binary, the systemd unit and an example boot file in
# place (an existing /etc/flowbox/boot.toml is kept). DESTDIR for packaging.
PREFIX   ?= /usr/local
DESTDIR  ?=
UNITDIR  ?= /etc/systemd/system
install: build
	install -D -m 0755 $(BIN)/flowbox $(DESTDIR)$(PREFIX)/bin/flowbox
	install -D -m 0644 firmware/flowbox.service $(DESTDIR)$(UNITDIR)/flowbox.service
	sed -i 's|/usr/local/bin/flowbox|$(PREFIX)/bin/flowbox|g' $(DESTDIR)$(UNITDIR)/flowbox.service
	install -d -m 0755 $(DESTDIR)/etc/flowbox/profiles
	cp -rL firmware/profiles/. $(DESTDIR)/etc/flowbox/profiles/
	install -D -m 0644 firmware/boot.example.toml $(DESTDIR)/etc/flowbox/boot.example.toml
	@if [ ! -e $(DESTDIR)/etc/flowbox/boot.toml ]; then \
		cp firmware/profiles/router/boot.toml firmware/profiles/router/router.click $(DESTDIR)/etc/flowbox/; \
		echo "installed /etc/flowbox/boot.toml (router profile): edit it, then systemctl enable --now flowbox"; \
	fi
	install -d -m 0700 $(DESTDIR)/var/lib/flowbox
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/flowbox/README.md

# firmware builds the bootable initramfs (cpio, gzip): static flowbox as
# /init, the profiles, /etc/flowbox/boot.toml from PROFILE, the NIC modules
# of the newest /lib/modules (virtio_net), last-known-good seeded with
# SEED_LKG. Boot it with any kernel (see README "Boot and firmware").
PROFILE  ?= router
SEED_LKG ?= $(PROFILE)
firmware: build
	$(GO) run ./firmware/mkimage -o $(BIN)/flowbox-initramfs.cpio.gz -flowbox $(BIN)/flowbox \
		-profile $(PROFILE) -seed-lkg '$(SEED_LKG)'
