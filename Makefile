# Everyday commands. The two that matter: `make demo` and `make test`.
.PHONY: setup images demo test unit e2e bench fuzz lint fmt generate

CARGO ?= cargo

# Docker engine running, local test images built (idempotent, quick when done).
setup:
	scripts/ensure-docker.sh
	scripts/build-images.sh
	command -v lua5.4 >/dev/null || (apt-get update -qq && apt-get install -y -qq lua5.4)
	# The remote-engine tests reach a second engine over TLS and SSH.
	test -x /usr/sbin/sshd && command -v ssh-keygen >/dev/null && command -v openssl >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-server openssh-client openssl)
	# The status page tests (tests/tests/dashboard.rs) load the page in headless Chromium.
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

images:
	scripts/build-images.sh

# The main job: turnout standalone on the demo plan. Edit activeVersion in
# /tmp/turnout-demo.yaml and watch `turnout status`.
demo: setup
	$(CARGO) build --release -p turnout
	install -d -m 700 /run/turnout-demo
	test -s /run/turnout-demo/db-password || (umask 077; head -c 18 /dev/urandom | base64 > /run/turnout-demo/db-password)
	test -f /tmp/turnout-demo.yaml || cp examples/standalone-demo.yaml /tmp/turnout-demo.yaml
	@echo "turnout watches /tmp/turnout-demo.yaml: change activeVersion (future, dao, blockchain) to switch the host."
	@echo "In another shell: target/release/turnout status"
	target/release/turnout standalone --file /tmp/turnout-demo.yaml --status-file /run/turnout-demo/status.json

# The whole test suite: unit, property, pipeline and end-to-end tests.
test: setup
	$(CARGO) build --workspace --all-targets
	$(CARGO) nextest run --workspace --no-fail-fast

unit:
	$(CARGO) nextest run -p turnout-crds -p turnout

e2e: setup
	$(CARGO) build -p turnout
	$(CARGO) nextest run -p turnout-e2e

# Benchmarks (docs/benchmarks.md): the pure core, then switch, drift, converged
# reconcile and idle cost against the Docker engine with the release binary,
# then data copies on one engine and between two (a second engine started by
# scripts/second-engine.sh). About 10 minutes; BENCH_IDLE_SECONDS etc. shorten a trial run (see tests/benches/host.rs).
bench: setup
	$(CARGO) build --release -p turnout
	$(CARGO) bench -p turnout --bench core
	$(CARGO) bench -p turnout-e2e --bench host
	$(CARGO) bench -p turnout-e2e --bench sync
	$(CARGO) bench -p turnout-e2e --bench promote

# Fuzzing (docs/benchmarks.md): 1,000,000 inputs through the YAML loader and
# every validation entry point, in a release build with overflow checks and
# debug assertions on. A panic or an input slower than 1 s is written to
# crds/tests/fuzz-corpus/ and fails the run. FUZZ_INPUTS, FUZZ_SEED,
# FUZZ_SLOW_MS and FUZZ_HANG_SECS change it (crds/benches/fuzz.rs).
fuzz:
	CARGO_PROFILE_BENCH_OVERFLOW_CHECKS=true CARGO_PROFILE_BENCH_DEBUG_ASSERTIONS=true \
		$(CARGO) bench -p turnout-crds --bench fuzz

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Regenerate what is generated from the Rust types.
generate:
	$(CARGO) run -q -p turnout -- crds > manifests/01-crds.yaml
	$(CARGO) run -q -p turnout -- ports examples/original-plan.yaml --svg > docs/original-plan-ports.svg
