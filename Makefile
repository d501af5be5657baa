# The two commands of the README:
#   make demo   install what is missing, build, stream the test camera to disk
#   make test   install what is missing, build, run the whole suite twice:
#               once under AddressSanitizer + UndefinedBehaviorSanitizer, then
#               once as released (CTest's last summary line is the release run)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build build-asan test test-asan test-release demo bench format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DES_WERROR=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DES_WERROR=ON -DES_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j 2

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j 2

# Sanitizers first, release last: a failure in either stops make non-zero.
test: test-asan test-release

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
