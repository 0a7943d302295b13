#!/bin/sh
# The test runner itself: a skip is reported and counted, and fails the run
# unless BETLAB_ALLOW_SKIP=1.  Runs tests/run_tests.sh on fake tests only
# (CLI_TESTS names them), so it never runs itself again.  Also: a fuzz
# regression ($BUILD/tests/fuzz_csv_regress) fails without its corpus.
#   sh tests/cli/test_runner.sh [./betlab]   (the program is not used)
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
rc=0
ok()  { echo "ok: $1"; }
bad() { echo "FAIL: $1"; rc=1; }

# a cmocka program whose test called skip() (what cmocka prints), one that
# passes, a shell test that skips (exit 77) and one that fails
mk() { printf '#!/bin/sh\n%s\n' "$2" >"$tmp/$1"; chmod +x "$tmp/$1"; }
mk cm_skip 'echo "[ RUN      ] needs_gpu"; echo "[  SKIPPED ] needs_gpu"; exit 0'
mk cm_pass 'echo "[       OK ] fine"; exit 0'
mk sh_skip 'echo "skip: no tmux"; exit 77'
mk sh_fail 'echo "broken"; exit 1'

expect_line() {  # text, description
    grep -qx -- "$1" "$tmp/out" && ok "$2" || { bad "$2: no line '$1'"; sed 's/^/    | /' "$tmp/out"; }
}

runner() {  # expected-exit, description, cli-tests, allow, unit-bins...
    want=$1; what=$2; cli=$3; allow=$4; shift 4
    (cd "$root" && env -u BETLAB_ALLOW_SKIP BUILD="$tmp/build" CLI_TESTS="$cli" \
        ${allow:+BETLAB_ALLOW_SKIP=$allow} sh tests/run_tests.sh "$@") >"$tmp/out" 2>&1
    got=$?
    if { [ "$want" = 0 ] && [ $got = 0 ]; } || { [ "$want" != 0 ] && [ $got != 0 ]; }; then
        ok "$what (exit $got)"
    else
        bad "$what: exit $got, wanted $([ "$want" = 0 ] && echo 0 || echo non-zero)"
        sed 's/^/    | /' "$tmp/out"
    fi
}

runner 0 "all pass" "" "" "$tmp/cm_pass"
expect_line "1 passed, 0 failed, 0 skipped" "closing line of a clean run"
expect_line "ok    cm_pass" "pass reported"

runner 1 "a cmocka skip fails the run" "" "" "$tmp/cm_pass" "$tmp/cm_skip"
expect_line "1 passed, 0 failed, 1 skipped" "cmocka skip counted"
expect_line "skip  cm_skip" "cmocka skip reported"

runner 0 "BETLAB_ALLOW_SKIP=1 accepts a cmocka skip" "" 1 "$tmp/cm_pass" "$tmp/cm_skip"
expect_line "1 passed, 0 failed, 1 skipped" "cmocka skip counted when allowed"

runner 1 "a shell skip (exit 77) fails the run" "$tmp/sh_skip" "" "$tmp/cm_pass"
expect_line "skip  cli-sh_skip" "shell skip reported"
expect_line "1 passed, 0 failed, 1 skipped" "shell skip counted"

runner 0 "BETLAB_ALLOW_SKIP=1 accepts a shell skip" "$tmp/sh_skip" 1 "$tmp/cm_pass"

runner 1 "a failure fails the run even with BETLAB_ALLOW_SKIP=1" "$tmp/sh_fail" 1 "$tmp/cm_skip"
expect_line "0 passed, 1 failed, 1 skipped" "failure and skip counted"
expect_line "FAIL  cli-sh_fail (exit 1)" "failure reported"

# a fuzz regression without its corpus folder fails instead of replaying
# only the empty input
fz=${BUILD:-build}/tests/fuzz_csv_regress
if [ -x "$fz" ]; then
    (cd "$root" && "$fz" "$tmp/no-such-corpus") >"$tmp/out" 2>&1 && bad "fuzz regression without a corpus passed" \
        || { grep -q "no corpus" "$tmp/out" && ok "fuzz regression without a corpus fails" \
             || bad "fuzz regression without a corpus: $(cat "$tmp/out")"; }
    mkdir "$tmp/empty"
    (cd "$root" && "$fz" "$tmp/empty") >/dev/null 2>&1 && bad "fuzz regression on an empty corpus passed" \
        || ok "fuzz regression on an empty corpus fails"
else
    bad "no $fz (build the tests first: make unit)"
fi

exit $rc
