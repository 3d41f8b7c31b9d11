# Two commands a user needs: `make demo` and `make test` (see README.md).
BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps configure build test demo asan test-asan train clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Thresholds the tests calibrate are remembered in the build tree, not in ~/.cache.
test: build
	@rm -rf $(BUILD)/test-cache
	@cd $(BUILD) && HEATVIT_CACHE_DIR="$(abspath $(BUILD))/test-cache" ctest --output-on-failure -j$(JOBS)

demo: build
	@$(BUILD)/bin/heatvit demo

# AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors (CI runs it).
test-asan:
	@$(MAKE) --no-print-directory test BUILD=build-asan BUILD_TYPE=Debug \
	  CMAKE_ARGS="-DHEATVIT_SANITIZE=ON -DHEATVIT_WERROR=ON"

train: build
	@scripts/install-deps.sh
	@models/deit-micro/run_training.sh

clean:
	@rm -rf build build-asan
