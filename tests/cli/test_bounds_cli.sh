#!/bin/sh
# A script or a file must not be able to crash betlab (issue 12, part 3),
# seen from the command line: hostile plugins give one clear error from
# `betlab faults` (param_size of 1 GiB, host->error(NULL, ...) keeps its
# message); sizes are bounded before allocating (an architecture spec
# summing to many GiB, a CSV row of 1e6 columns for `cluster`); `cluster`
# shows a progress bar on a terminal (and none when stderr is not one).
#   sh tests/cli/test_bounds_cli.sh ./betlab
BL=${1:-./betlab}
case $BL in /*) ;; *) BL=$(pwd)/$BL ;; esac
PLUG=${BUILD:-build}/tests/plugins
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; sed 's/^/  | /' "$T/err" | head -5; fails=$((fails + 1)); }
# description, wanted exit status, pattern in stderr, command...
expect() {
    desc=$1; want=$2; pat=$3; shift 3
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" = "$want" ] && grep -q -- "$pat" "$T/err"; then ok "$desc"
    else echo "  (exit $got, want $want; want '$pat')"; bad "$desc"; fi
}

# plugins
expect "faults: param_size 1 GiB is an error naming the field" 1 \
    "huge_param_size.so: param_size 1073741824" "$BL" faults --plugin "$PLUG/huge_param_size.so"
expect "faults: host->error(NULL, ...) keeps the plugin's message" 1 \
    "plugin entry failed: calibration file rram.cal not found" \
    "$BL" faults --plugin "$PLUG/entry_error_null.so"
expect "faults: escape sequences in a help line are refused" 1 \
    "help line has a control character" "$BL" faults --plugin "$PLUG/bad_help.so"

# an architecture spec whose layers fit one by one but not in all
start=$(date +%s)
expect "spec summing to > 4 GiB rejected up front, size named" 1 "GiB (at most 4 GiB in all)" \
    "$BL" info "random:120000-120000-120000-120000-10"
[ $(($(date +%s) - start)) -le 2 ] && ok "rejected within 2 s" || bad "spec rejection took long"

# one CSV row of 1e6 columns (a second row so that it is a dataset)
python3 -c "
import sys
for r in range(2): sys.stdout.write(','.join(['1'] * 1000000) + ',0\n')" >"$T/wide.csv"
# (ASan reserves terabytes of address space: no limit in that build)
( [ -n "$BETLAB_SANITIZED" ] || ulimit -v 2000000 2>/dev/null
  "$BL" cluster --data "$T/wide.csv" --k 1 >"$T/out" 2>"$T/err"; echo $? >"$T/rc" )
if [ "$(cat "$T/rc")" = 1 ] && grep -q "values each: at most 16384 values per point" "$T/err"
then ok "cluster: a 1e6-column row is an error naming the size (under 2 GB of memory)"
else bad "cluster: wide CSV (exit $(cat "$T/rc"))"; fi
expect "cluster: too many values in all, with the size" 1 "GiB as doubles" \
    "$BL" cluster --data blobs:1000000,1000,3 --k 2

# progress bar on a terminal only
"$BL" cluster --data blobs:3000,8,4 --k 20 >"$T/out" 2>"$T/err"
if [ ! -s "$T/err" ] && grep -q "^f(S)" "$T/out"; then ok "cluster: no bar when stderr is not a terminal"
else bad "cluster: output without a terminal"; fi
python3 - "$BL" >"$T/err" 2>&1 <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["betlab", "cluster", "--data", "blobs:3000,8,4", "--k", "20",
                           "--threads", "1"])
out = b""
while True:
    try:
        r, _, _ = select.select([fd], [], [], 20)
        if not r:
            break
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
text = out.decode("utf-8", "replace")
print(text[-400:])
sys.exit(0 if os.WEXITSTATUS(st) == 0 and "\r[" in text and "100%" in text and "f(S)" in text
         else 1)
PY
[ $? = 0 ] && ok "cluster: progress bar on a terminal" || bad "cluster: progress bar on a terminal"

[ $fails = 0 ] || { echo "$fails failed"; exit 1; }
echo "all passed"
