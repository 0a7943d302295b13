#!/bin/sh
# Runs the terminal tests (tests/tui/*.sh) at 80x24, 120x40 and 40x12.
#   sh tests/cli/test_tui.sh ./betlab
BIN=${1:-./betlab}
# exit 77 is a skip (tests/run_tests.sh counts it; it fails `make test`
# unless BETLAB_ALLOW_SKIP=1)
if ! command -v tmux >/dev/null 2>&1; then echo "skip: tmux not installed (make deps)"; exit 77; fi
"$BIN" tui --help >/dev/null || { echo "FAIL: betlab tui --help"; exit 1; }
# not a terminal: a clear error, exit 2
"$BIN" tui </dev/null >/dev/null 2>&1; [ $? = 2 ] || { echo "FAIL: tui without a terminal"; exit 1; }
rc=0
for t in tests/tui/*.sh; do
    for size in "80 24" "120 40" "40 12"; do
        sh "$t" "$BIN" $size || rc=1
    done
done
exit $rc
