# The two commands of the README:
#   make demo   install what is missing, build, stream the test camera to disk
#   make test   install what is missing, build, run the whole suite twice:
#               once under AddressSanitizer + UndefinedBehaviorSanitizer (all
#               but the web and real-time browser tests and the package build),
#               then once as released
#               (everything; CTest's last summary line is the release run)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps web build build-asan test test-asan test-release demo bench fuzz format clean fresh-check package

all: build

deps:
	@scripts/deps.sh

# The player and dashboard (web/): npm ci only when the lock file changed.
web: deps
	@if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
		cd web && npm ci --no-audit --no-fund; fi
	cd web && npm run build --silent

build: deps web
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DES_WERROR=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps web
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DES_WERROR=ON -DES_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j 2 -LE 'web|realtime|package'

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j 2

# Sanitizers first, release last: a failure in either stops make non-zero.
test: test-asan test-release

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	bench/run.sh $(BUILD)

# Thirty minutes of four cameras under churn (camera flaps, storage outages, 50 LL
# viewers), sampling the daemon's RSS, fds and threads; writes its bench/RESULTS.md
# section (bench/soak.py). Not part of `make test`. SOAK_MINUTES=3 for a short trial.
.PHONY: soak
soak: build
	nice -n 5 bench/soak.py $(BUILD)

# The README's two commands on a clean Debian 12 root (mmdebstrap + chroot, as
# root, about half an hour): proves deps.sh lacks nothing. Not part of `make test`.
fresh-check:
	scripts/fresh-check.sh

# The Debian package (debian/, docs/operations.md): edgestream_<version>_<arch>.deb
# here, built by debhelper in its own obj-<triplet>/ folder, which goes after.
package: deps web
	dpkg-checkbuilddeps
	DEB_BUILD_OPTIONS="parallel=$(JOBS)" debian/rules binary
	debian/rules clean

# The parsers that read untrusted bytes, under libFuzzer (clang), FUZZ_SECONDS
# each: the playlist parser, and the RTSP client (SDP, framer, depacketizers,
# whole sessions).
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -Isrc
fuzz: deps
	mkdir -p $(BUILD)/fuzz/playlist $(BUILD)/fuzz/rtsp
	clang $(FUZZ_CFLAGS) src/core/*.c src/playlist/*.c tests/fuzz/fuzz_playlist_parse.c $$(pkg-config --cflags --libs libavutil) \
		-lm -lpthread -o $(BUILD)/fuzz/fuzz_playlist_parse
	clang $(FUZZ_CFLAGS) src/core/*.c src/source/rtsp_client.c src/source/rtp_*.c src/source/sdp.c \
		tests/fuzz/fuzz_rtsp_client.c $$(pkg-config --cflags --libs libavformat libavcodec libavutil) \
		-lm -lpthread -o $(BUILD)/fuzz/fuzz_rtsp_client
	$(BUILD)/fuzz/fuzz_playlist_parse -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/playlist
	$(BUILD)/fuzz/fuzz_rtsp_client -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/rtsp

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
