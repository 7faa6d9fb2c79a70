# Thin wrapper for the two README commands; the build itself is CMake.
#   make run   - install what is missing, build, run on config/siemrelay.yaml
#   make test  - install what is missing, build, run the whole test suite
#   make test SANITIZE=1 - the same under AddressSanitizer + UBSan

BUILD_DEPS := cmake gcc make pkg-config libluajit2-5.1-dev libuv1-dev \
	libcurl4-openssl-dev librdkafka-dev lua-cjson-dev libssl-dev libyaml-dev \
	libhttp-parser-dev zlib1g-dev
TEST_DEPS := python3 python3-pytest python3-requests python3-cryptography \
	python3-jwt python3-botocore nginx rsyslog rsyslog-openssl kcat openssl curl \
	chromium nodejs
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
JOBS ?= $(shell nproc)

.PHONY: all build run test deps test-deps clean

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

run: build
	./$(BUILD_DIR)/siemrelay -c $(CONFIG)

test: test-deps
	cmake -S . -B $(BUILD_DIR) -DSIEMRELAY_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

bench: deps ; /usr/bin/python3 tests/bench/run $(BENCH_ARGS)

clean:
	rm -rf build build-asan
