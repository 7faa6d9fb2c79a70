# Thin wrapper for the two README commands; the build itself is CMake.
#   make run   - install what is missing, build, run on config/siemrelay.yaml
#   make test  - install what is missing, build, run the whole test suite
#   make test SANITIZE=1 - the same under AddressSanitizer + UBSan
#   make install [PREFIX=/usr/local] [DESTDIR=...] - build and install (docs/install.md)
#   make deb     - the Debian package, in build-deb/ (CPack)
#   make package-check - build the package, install, run, remove it (root; .ci/package-check)

BUILD_DEPS := cmake gcc make pkg-config libluajit2-5.1-dev libuv1-dev \
	libcurl4-openssl-dev librdkafka-dev lua-cjson-dev libssl-dev libyaml-dev \
	libhttp-parser-dev zlib1g-dev
TEST_DEPS := python3 python3-pytest python3-requests python3-cryptography \
	python3-jwt python3-botocore nginx rsyslog rsyslog-openssl kcat openssl curl \
	chromium nodejs clang libclang-rt-14-dev
# The browser test's driver (tests/ui): playwright-core from npm, at the
# version tests/ui/package-lock.json pins; installed again when that changes.
UI_LOCK := tests/ui/package-lock.json
UI_MODULES := tests/ui/node_modules/.package-lock.json

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_FLAGS := -DSIEMRELAY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD_DIR ?= build
CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
CONFIG ?= config/siemrelay.yaml
# The installation prefix is compiled in (the systemd unit's paths): a
# changed PREFIX reconfigures the build.
PREFIX ?= /usr/local
DEB_DIR ?= build-deb
JOBS ?= $(shell nproc)

.PHONY: all build run test deps test-deps clean install deb package-check

all: build

deps:
	@sh .ci/install-deps $(BUILD_DEPS)

test-deps:
	@sh .ci/install-deps $(BUILD_DEPS) $(TEST_DEPS)
	@command -v npm >/dev/null 2>&1 || sh .ci/install-deps npm
	@[ $(UI_MODULES) -nt $(UI_LOCK) ] || npm ci --prefix tests/ui --ignore-scripts --no-audit --no-fund

build: deps
	cmake -S . -B $(BUILD_DIR) -DSIEMRELAY_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

install: deps
	cmake -S . -B $(BUILD_DIR) -DSIEMRELAY_WERROR=ON $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD_DIR) -j $(JOBS) --target siemrelay
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR)

# A build of its own with the prefix /usr (configuration in /etc/siemrelay).
deb: deps
	cmake -S . -B $(DEB_DIR) -DSIEMRELAY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON
	cmake --build $(DEB_DIR) -j $(JOBS) --target siemrelay
	cd $(DEB_DIR) && cpack -G DEB

package-check: deb
	sh .ci/package-check $(DEB_DIR)

run: build
	./$(BUILD_DIR)/siemrelay -c $(CONFIG)

test: test-deps
	cmake -S . -B $(BUILD_DIR) -DSIEMRELAY_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

bench: deps ; /usr/bin/python3 tests/bench/run $(BENCH_ARGS)

clean:
	rm -rf build build-asan build-deb
