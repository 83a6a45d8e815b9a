# vouch — build, test, demo, lint, bench.
#
#   make demo    the main job end to end on a throwaway trust dir (no server needed)
#   make test    the whole suite, against the real notary CLI / notary-server / docker-registry

CARGO ?= cargo
DEB_PACKAGES := notary docker-registry skopeo openssl apache2-utils strace kubernetes-client
# Commands each Debian package provides; a missing command means a missing package.
DEB_COMMANDS := notary notary-server docker-registry skopeo openssl htpasswd strace kubectl

.PHONY: all build test test-deps demo lint fmt bench clean

all: build

build:
	$(CARGO) build --release

# Install the real servers and CLIs the integration tests run, when missing.
test-deps:
	@missing=""; for c in $(DEB_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "test-deps: missing:$$missing — installing $(DEB_PACKAGES) with apt-get" >&2; \
	  if [ "$$(id -u)" != 0 ]; then echo "test-deps: run as root, or install: apt-get install $(DEB_PACKAGES)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	fi; \
	for c in $(DEB_COMMANDS); do command -v $$c >/dev/null 2>&1 || { echo "test-deps: $$c still missing" >&2; exit 1; }; done

test: test-deps
	$(CARGO) test --all-targets --no-fail-fast

demo:
	$(CARGO) build --quiet
	./scripts/demo.sh target/debug/vouch

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet

fmt:
	$(CARGO) fmt --all

bench:
	$(CARGO) build --release --quiet
	$(CARGO) run --release --quiet --example ecdsa_timings
	./scripts/bench.sh target/release/vouch

clean:
	$(CARGO) clean
