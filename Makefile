# betlab - the only build entry (DESIGN.md "Layout").
#
#   make            build ./betlab (runnable in place)
#   make run        install missing Debian packages (as root), build, open the TUI
#   make test       unit tests (cmocka), loader/fuzz regressions, CLI tests; any
#                   skipped test fails it unless BETLAB_ALLOW_SKIP=1
#   make bench      benchmarks (ratios measured in one run)
#   make asan       ASan + UBSan build of everything, then run the tests with it
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make deps       install the Debian packages betlab needs (or print the command)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
BUILD   ?= build
# the program; sanitizer builds put theirs in their own folder
BIN     ?= betlab
FUZZ_SECONDS ?= 30

# Debian packages: the single list used by `make deps`.
DEB_PKGS = build-essential pkg-config libncurses-dev libreadline-dev liblua5.4-dev \
           ocl-icd-opencl-dev opencl-c-headers pocl-opencl-icd libcmocka-dev zlib1g-dev \
           libopenblas-dev libjansson-dev tmux clinfo dataset-fashion-mnist python3 \
           python3-numpy slurm-wlm munge
# pkg-config modules that must be present for the build and the tests.
PC_MODS  = zlib jansson cmocka openblas lua5.4 readline ncursesw OpenCL

PC_CFLAGS := $(shell pkg-config --cflags $(PC_MODS) 2>/dev/null)
# front ends (Lua console, later the TUI) link these on top of the core
FRONT_LIBS := $(shell pkg-config --libs lua5.4 readline ncursesw 2>/dev/null)
PC_LIBS   := $(shell pkg-config --libs zlib jansson openblas OpenCL 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
BL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -pthread -Isrc \
            -DBL_PREFIX='"$(PREFIX)"' -DCL_TARGET_OPENCL_VERSION=300 $(PC_CFLAGS) $(SAN)
LDLIBS  = $(PC_LIBS) -lm -pthread $(SAN)

# SIMD variants of kernels are chosen at run time (src/base/cpu.h); only the
# files named *_avx2.c / *_avx512.c get the matching instruction sets.
AVX2_FLAGS   = -mavx2 -mpopcnt -mfma -mbmi2
AVX512_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vpopcntdq -mavx512vnni \
               -mavx2 -mpopcnt -mfma -mbmi2

CORE_DIRS = src/base src/data src/bnn src/fault src/study src/cluster src/ocl src/jobs
CORE_SRC  = $(foreach d,$(CORE_DIRS),$(wildcard $(d)/*.c))
# Front ends: src/lua (the betlab Lua module, executor, console), src/tui
# (the ncurses workbench) and the command line.  Everything but main.c also goes into libbetlab-front.a so
# unit tests can link it.
FRONT_SRC = $(wildcard src/lua/*.c) $(wildcard src/tui/*.c) $(wildcard src/cli/*.c)
CORE_OBJ  = $(CORE_SRC:%.c=$(BUILD)/%.o)
FRONT_OBJ = $(FRONT_SRC:%.c=$(BUILD)/%.o)
LIB       = $(BUILD)/libbetlab.a
FRONT_LIB = $(BUILD)/libbetlab-front.a
PLUGIN_SRC = $(wildcard plugins/*.c)
PLUGINS   = $(PLUGIN_SRC:.c=.so)
TEST_PLUGIN_SRC = $(wildcard tests/plugins/*.c)
TEST_PLUGINS = $(TEST_PLUGIN_SRC:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)

UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT = $(wildcard tests/unit/support/*.c)
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REGR = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/%_regress)
BENCH_SRC = $(wildcard tests/bench/bench_*.c)
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all run test check-deps deps bench asan fuzz install clean unit models interop

all: $(BIN) $(PLUGINS)

$(BIN): $(BUILD)/src/main.o $(FRONT_LIB) $(LIB)
	$(CC) $(BL_CFLAGS) $(CFLAGS) -o $@ $(BUILD)/src/main.o $(FRONT_LIB) $(LIB) $(FRONT_LIBS) $(LDLIBS) $(LDFLAGS)

$(LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FRONT_LIB): $(FRONT_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Fault-model plugins: one .c -> one .so; they include only
# plugins/betlab_plugin.h and never link against betlab.
plugins/%.so: plugins/%.c plugins/betlab_plugin.h
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -fPIC -shared -Iplugins -o $@ $< -lm

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c plugins/betlab_plugin.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -O2 -g -fPIC -shared -Iplugins -o $@ $< -lm

$(BUILD)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) $(AVX2_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) $(AVX512_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# --- tests ------------------------------------------------------------------
$(BUILD)/tests/test_%: tests/unit/test_%.c $(TEST_SUPPORT) $(FRONT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(TEST_SUPPORT) $(FRONT_LIB) $(LIB) $(CMOCKA_LIBS) $(FRONT_LIBS) $(LDLIBS)

# Fuzz targets double as regression tests: a plain main() feeds them every
# file of their corpus (tests/fuzz/corpus/<name>/), so `make test` replays
# what fuzzing found without needing clang.
$(BUILD)/tests/fuzz_%_regress: tests/fuzz/fuzz_%.c tests/fuzz/standalone_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) -o $@ $< tests/fuzz/standalone_main.c $(LIB) $(LDLIBS)

# fuzz_record replays Lua session records: it needs the front end (src/lua).
$(BUILD)/tests/fuzz_record_regress: tests/fuzz/fuzz_record.c tests/fuzz/standalone_main.c $(FRONT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) -o $@ $< tests/fuzz/standalone_main.c $(FRONT_LIB) $(LIB) $(FRONT_LIBS) $(LDLIBS)

unit: $(UNIT_BIN) $(FUZZ_REGR) $(BIN) $(PLUGINS) $(TEST_PLUGINS)

test: check-deps
	@$(MAKE) --no-print-directory unit
	@BUILD=$(BUILD) BIN=$(BIN) BETLAB_ALLOW_SKIP=$(BETLAB_ALLOW_SKIP) \
	    sh tests/run_tests.sh $(UNIT_BIN) -- $(FUZZ_REGR)

# Everything `make test` needs so that no test skips: the libraries, the
# FashionMNIST files, the tools the CLI tests drive (tmux, python3) and an
# OpenCL ICD (PoCL) for the OpenCL tests.
HAVE_DEPS = pkg-config --exists $(PC_MODS) && [ -d /usr/share/datasets/fashion-mnist ] \
	&& command -v tmux >/dev/null && command -v python3 >/dev/null \
	&& { python3 -c 'import numpy' 2>/dev/null || /usr/bin/python3 -c 'import numpy' 2>/dev/null; } \
	&& { ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 || clinfo -l 2>/dev/null | grep -q Platform; }
check-deps:
	@$(HAVE_DEPS) || { $(MAKE) --no-print-directory deps && $(HAVE_DEPS); } || { \
	    echo "betlab: still missing a library, the FashionMNIST data, tmux, python3 (with numpy)" \
	         "or an OpenCL ICD (/etc/OpenCL/vendors/*.icd); see make deps"; exit 1; }

deps:
	@if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $(DEB_PKGS)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS); \
	else \
	    missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	    if [ -n "$$missing" ]; then echo "betlab needs these Debian packages; run:"; \
	        echo "    sudo apt-get install$$missing"; exit 1; fi; \
	fi

# Optional, not part of `make test`: PyTorch from PyPI in a virtual
# environment, then examples/torch_fc.py end to end (train one epoch on
# FashionMNIST, export, import --check, compare predictions image by image);
# then Larq where it installs (it needs TensorFlow < 2.16: Keras 3 breaks
# larq 0.14) and examples/larq_fc.py the same way.
INTEROP_VENV ?= build-interop/venv
interop: $(BIN)
	@[ -x $(INTEROP_VENV)/bin/pip ] || python3 -m venv $(INTEROP_VENV) || /usr/bin/python3 -m venv $(INTEROP_VENV)
	$(INTEROP_VENV)/bin/pip install -q ./python torch
	BETLAB=$(abspath $(BIN)) $(INTEROP_VENV)/bin/python examples/torch_fc.py
	@if $(INTEROP_VENV)/bin/pip install -q "tensorflow-cpu<2.16" larq; then \
	    BETLAB=$(abspath $(BIN)) $(INTEROP_VENV)/bin/python examples/larq_fc.py; \
	else echo "interop: larq/TensorFlow < 2.16 do not install here; the Larq example was not run"; fi

run: check-deps
	@$(MAKE) --no-print-directory all
	./betlab

# Retrain every shipped model with its recorded recipe (models/make_models.sh).
models: betlab
	BETLAB=./betlab sh models/make_models.sh

# --- benchmarks ---------------------------------------------------------------
# Benchmarks link the front-end library for cli/env.h (the OpenBLAS fix and
# the settings betlab reads from the environment).
$(BUILD)/bench/bench_%: tests/bench/bench_%.c $(FRONT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BL_CFLAGS) $(CFLAGS) -o $@ $< $(FRONT_LIB) $(LIB) $(FRONT_LIBS) $(LDLIBS)

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# --- sanitizers and fuzzing ----------------------------------------------------
# use_sigaltstack=0: PoCL's worker threads (OpenCL on the CPU) exit in a way
# that makes ASan fail to unmap its per-thread alternate signal stack
# ("unable to unmap" in UnsetAlternateSignalStack); betlab itself installs
# no alternate stacks.
asan:
	@BETLAB_SANITIZED=1 ASAN_OPTIONS="$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}use_sigaltstack=0" $(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/betlab OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    test

FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_SRC)
	@mkdir -p build-fuzz
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -Wno-unknown-warning-option" build-fuzz/libbetlab.a
	clang $(BL_CFLAGS) -Wno-unknown-warning-option -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< build-fuzz/libbetlab.a $(PC_LIBS) -lm

build-fuzz/fuzz_record: tests/fuzz/fuzz_record.c $(CORE_SRC) $(FRONT_SRC)
	@mkdir -p build-fuzz
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -Wno-unknown-warning-option" \
	    build-fuzz/libbetlab.a build-fuzz/libbetlab-front.a
	clang $(BL_CFLAGS) -Wno-unknown-warning-option -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $< \
	    build-fuzz/libbetlab-front.a build-fuzz/libbetlab.a $(FRONT_LIBS) $(PC_LIBS) -lm

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p tests/fuzz/corpus/$$n build-fuzz/corpus-$$n; \
	    echo "== $$n ($(FUZZ_SECONDS) s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n \
	        2>&1 | tail -3 || exit 1; done

# --- install ---------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	    $(DESTDIR)$(PREFIX)/share/betlab $(DESTDIR)$(PREFIX)/lib/betlab/plugins
	install -m 755 betlab $(DESTDIR)$(PREFIX)/bin/betlab
	for m in man/*.1; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/ || true; done
	for m in man/*.5; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man5/ || true; done
	for m in man/*.7; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man7/ || true; done
	for d in lua kernels sessions; do \
	    install -d $(DESTDIR)$(PREFIX)/share/betlab/$$d; \
	    for f in $$d/*; do [ -f "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/betlab/$$d/ || true; done; done
	install -d $(DESTDIR)$(PREFIX)/share/betlab/lua/betlab
	for f in lua/betlab/*.lua; do [ -f "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/betlab/lua/betlab/ || true; done
	install -d $(DESTDIR)$(PREFIX)/share/betlab/models
	for f in models/*.bnn; do [ -f "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/betlab/models/ || true; done
	for f in plugins/*.so plugins/*.h; do [ -f "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/lib/betlab/plugins/ || true; done

clean:
	rm -rf build build-asan build-fuzz betlab plugins/*.so

# Objects depend on the compiler flags (PREFIX is one of them, compiled
# into src/base/paths.c): a stamp file changes only when the flags do.
$(BUILD)/flags.stamp: FORCE
	@mkdir -p $(BUILD); echo '$(CC) $(BL_CFLAGS) $(CFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(BL_CFLAGS) $(CFLAGS)' > $@
$(CORE_OBJ) $(FRONT_OBJ) $(BUILD)/src/main.o: $(BUILD)/flags.stamp
.PHONY: FORCE
FORCE:

-include $(CORE_OBJ:.o=.d) $(FRONT_OBJ:.o=.d) $(BUILD)/src/main.d
