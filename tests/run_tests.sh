#!/bin/sh
# Runs every test program and prints one closing line
# "N passed, N failed, N skipped" (CI parses its "N passed, N failed" part).
#   tests/run_tests.sh UNIT_BIN... -- FUZZ_REGRESS_BIN...
# Unit binaries are cmocka programs; fuzz regressions replay their corpus
# (tests/fuzz/corpus/<target>/); CLI tests are tests/cli/*.sh run against
# ./betlab (or $BIN).  BUILD names the build folder (build or build-asan).
# CLI_TESTS, when set, replaces the list of CLI scripts (tests/cli/test_runner.sh
# sets it so that running the runner on a fake test does not recurse).
#
# Skips are not passes.  A test skips when a cmocka test calls skip() (its
# "[  SKIPPED ]" line; cmocka's output is forced to stdout so the log has it)
# or when a shell test exits 77 (automake's convention).  It is reported as
# "skip  NAME", counted, and any skip makes the run fail: a test that could
# not run proves nothing, and `make deps` installs what every test needs.
# BETLAB_ALLOW_SKIP=1 accepts skips (a machine without tmux or OpenCL).
pass=0; fail=0; nskip=0; failed=""; skipped=""
log() { echo "${BUILD:-build}/tests/$1.log"; }
run() {  # name, command...
    name=$1; shift
    "$@" >"$(log "$name")" 2>&1
    rc=$?
    if [ $rc = 0 ] && ! grep -q '^\[  SKIPPED \]' "$(log "$name")"; then
        pass=$((pass + 1)); echo "ok    $name"
    elif [ $rc = 0 ] || [ $rc = 77 ]; then
        nskip=$((nskip + 1)); skipped="$skipped $name"; echo "skip  $name"
        # cmocka names the skipped tests (and our tests print "skip: why");
        # a shell test says why on its last lines
        { grep -e '^\[  SKIPPED \] [^ ]*$' -e '^skip: ' "$(log "$name")" | sort -u
          [ $rc = 77 ] && tail -3 "$(log "$name")"; } | sed 's/^/    | /'
    else
        fail=$((fail + 1)); failed="$failed $name"; echo "FAIL  $name (exit $rc)"
        sed 's/^/    | /' "$(log "$name")" | tail -40
    fi
}
mkdir -p "${BUILD:-build}/tests"
CMOCKA_MESSAGE_OUTPUT=stdout; export CMOCKA_MESSAGE_OUTPUT
mode=unit
for b in "$@"; do
    if [ "$b" = "--" ]; then mode=fuzz; continue; fi
    n=$(basename "$b")
    if [ $mode = unit ]; then
        run "$n" "$b"
    else
        target=${n%_regress}
        run "$n" "$b" tests/fuzz/corpus/"$target"
    fi
done
# unquoted on purpose: the default is a pattern, a set list is split on spaces
for t in ${CLI_TESTS-tests/cli/*.sh}; do
    [ -f "$t" ] || continue
    run "cli-$(basename "$t" .sh)" sh "$t" "./${BIN:-betlab}"
done
echo
[ -n "$failed" ] && echo "failed:$failed"
[ -n "$skipped" ] && echo "skipped:$skipped"
echo "$pass passed, $fail failed, $nskip skipped"
[ "$fail" = 0 ] || exit 1
if [ "$nskip" != 0 ]; then
    if [ "${BETLAB_ALLOW_SKIP:-0}" = 1 ]; then
        echo "skips accepted (BETLAB_ALLOW_SKIP=1)"
    else
        echo "skipped tests fail the run: install what they need (make deps)," \
             "or set BETLAB_ALLOW_SKIP=1 to accept skips"
        exit 1
    fi
fi
exit 0
