#!/bin/sh
# Runs every test program and prints one closing line "N passed, N failed".
#   tests/run_tests.sh UNIT_BIN... -- FUZZ_REGRESS_BIN...
# Unit binaries are cmocka programs; fuzz regressions replay their corpus
# (tests/fuzz/corpus/<target>/); CLI tests are tests/cli/*.sh run against
# ./betlab (or $BIN).  BUILD names the build folder (build or build-asan).
pass=0; fail=0; failed=""
run() {  # name, command...
    name=$1; shift
    if "$@" >"${BUILD:-build}/tests/$name.log" 2>&1; then
        pass=$((pass + 1)); echo "ok    $name"
    else
        fail=$((fail + 1)); failed="$failed $name"; echo "FAIL  $name"
        sed 's/^/    | /' "${BUILD:-build}/tests/$name.log" | tail -40
    fi
}
mkdir -p "${BUILD:-build}/tests"
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
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    run "cli-$(basename "$t" .sh)" sh "$t" "./${BIN:-betlab}"
done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
