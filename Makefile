# kube9 - see README.md. `make up` starts a cluster, `make test` runs every test.
CC      ?= cc
PKGS    := jansson yaml-0.1 sqlite3 libmicrohttpd gnutls fuse3 libcurl libarchive
CFLAGS  ?= -O2 -g
K9_CFLAGS = $(CFLAGS) -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Ifs -Ilib -Imnt -Isched -Inode \
	   -fno-strict-aliasing -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  += $(PKG_LIBS) -pthread -lm

# Debian packages the build, the tests and `make up` need.
DEB_PKGS := build-essential pkg-config libjansson-dev libyaml-dev libsqlite3-dev \
	    libmicrohttpd-dev libgnutls28-dev libfuse3-dev libcurl4-gnutls-dev fuse3 \
	    curl jq clang clang-format etcd-server etcd-client openssl iproute2 \
	    inotify-tools attr libarchive-dev crun containernetworking-plugins \
	    busybox-static docker-registry skopeo apache2-utils
DATA_DIR ?= /var/lib/kube9
MOUNT_DIR ?= /mnt/kube9
B        ?= build
KUBE9    := $(if $(filter build,$(B)),bin/kube9,$(B)/kube9)
SHIM     := $(dir $(KUBE9))kube9-shim

LIB_SRC  := $(wildcard lib/*.c)
FS_SRC   := $(wildcard fs/*.c)
MNT_SRC  := $(wildcard mnt/*.c)
RUN_SRC  := $(wildcard sched/*.c node/*.c)
CMD_SRC  := $(wildcard cmd/*.c)
CORE_SRC := $(LIB_SRC) $(FS_SRC) $(MNT_SRC) $(RUN_SRC)
CORE_OBJ := $(patsubst %.c,$(B)/%.o,$(CORE_SRC))
CMD_OBJ  := $(patsubst %.c,$(B)/%.o,$(CMD_SRC))
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.PHONY: all deps test unit integration asan lint fmt up down images fuzz bench bench-api bench-mount bench-sched bench-pods bench-scale clean

all: .deps-ok $(KUBE9) $(SHIM) $(UNIT_BIN)

# `make deps` installs what is missing (as root, non-interactive); other
# targets run it only when a package is absent.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if ! command -v kubectl >/dev/null 2>&1; then missing="$$missing kubernetes-client"; fi; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing" >&2; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "deps: all Debian packages present" >&2; fi
	@touch .deps-ok

.deps-ok:
	@$(MAKE) --no-print-directory deps

$(B)/%.o: %.c $(wildcard include/kube9/*.h) $(wildcard fs/*.h) $(wildcard lib/*.h) $(wildcard mnt/*.h) $(wildcard sched/*.h node/*.h) | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(K9_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/libkube9.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(KUBE9): $(CMD_OBJ) $(B)/libkube9.a
	@mkdir -p $(dir $@)
	$(CC) $(K9_CFLAGS) -o $@ $(CMD_OBJ) $(B)/libkube9.a $(LDFLAGS) $(LDLIBS)

# pods' sandboxes and shims: libc only, quick to start (cmd/shim/main.c)
$(SHIM): $(B)/cmd/shim/main.o $(B)/node/node_shim.o $(B)/lib/util.o
	@mkdir -p $(dir $@)
	$(CC) $(K9_CFLAGS) -o $@ $^ $(LDFLAGS) -pthread

$(B)/tests/%: tests/unit/%.c $(B)/libkube9.a tests/unit/tap.h
	@mkdir -p $(B)/tests
	$(CC) $(K9_CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< $(B)/libkube9.a $(LDFLAGS) $(LDLIBS)

test: all
	@tests/run.sh

unit: all
	@tests/run.sh unit

integration: all
	@tests/run.sh integration

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer, in a
# separate build tree so the normal build is untouched.
asan: .deps-ok
	@$(MAKE) --no-print-directory B=build/asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" all
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		K9_UNIT_DIR=build/asan/tests tests/run.sh unit

lint:
	@out=$$(for f in $$(git ls-files '*.c' '*.h'); do \
		clang-format --dry-run --Werror $$f 2>&1 >/dev/null | head -3; done); \
	if [ -n "$$out" ]; then echo "$$out"; echo "lint: run 'make fmt'" >&2; exit 1; fi; \
	echo "lint: clean" >&2

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The decoder under libFuzzer for a short fixed time (FUZZ_SECONDS).
FUZZ_SECONDS ?= 20
fuzz: .deps-ok
	@mkdir -p $(B)/fuzz
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
		$(PKG_CFLAGS) -o $(B)/fuzz/decode tests/fuzz/decode.c $(LIB_SRC) $(PKG_LIBS) -pthread -lm
	@rm -rf $(B)/fuzz/new && mkdir -p $(B)/fuzz/new
	$(B)/fuzz/decode -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
		-artifact_prefix=$(B)/fuzz/ $(B)/fuzz/new tests/fuzz/corpus

# The busybox test image as an OCI layout (kube9 image import, skopeo oci:DIR:1.35);
# not part of all.
images: $(B)/images/busybox

$(B)/images/busybox: scripts/mkimage.sh | .deps-ok
	scripts/mkimage.sh $@ 1.35

up: all images
	@scripts/up.sh $(DATA_DIR) $(MOUNT_DIR)

down:
	@scripts/down.sh $(DATA_DIR) $(MOUNT_DIR)

# Benchmarks (bench/README.md): the client is built into $(B)/bench/.
BENCH_BIN := $(B)/bench/api_bench

$(BENCH_BIN): bench/api_bench.c | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(K9_CFLAGS) $(shell pkg-config --cflags libcurl) -o $@ $< $(LDFLAGS) \
		$(shell pkg-config --libs libcurl) -pthread -lm

WATCH_BIN := $(B)/bench/watch_count

$(WATCH_BIN): bench/watch_count.c $(B)/libkube9.a | .deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(K9_CFLAGS) -o $@ $< $(B)/libkube9.a $(LDFLAGS) $(LDLIBS)

bench: bench-api bench-mount bench-sched bench-pods

bench-api: all $(BENCH_BIN)
	@B=$(B) KUBE9=$(KUBE9) bench/run.sh

bench-mount: all $(BENCH_BIN)
	@B=$(B) KUBE9=$(KUBE9) bench/mount.sh

bench-sched: all $(WATCH_BIN)
	@B=$(B) KUBE9=$(KUBE9) bench/sched.sh

bench-pods: all
	@B=$(B) KUBE9=$(KUBE9) bench/pods.sh

bench-scale: all $(WATCH_BIN)
	@B=$(B) KUBE9=$(KUBE9) bench/scale.sh

clean:
	rm -rf build bin .deps-ok
