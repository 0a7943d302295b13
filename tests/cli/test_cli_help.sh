#!/bin/sh
# The declarative command table (src/cli/opts.h): every command answers
# --help (exit 0) and lists its options; `betlab help CMD` = `betlab CMD --help`;
# an unknown command or option suggests the nearest one briefly; a usage
# error is printed once, as "betlab: CMD: message", with exit status 2.
#   sh tests/cli/test_cli_help.sh ./betlab
BL=${1:-./betlab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
run() {  # command...: status in $rc, output in $T/out and $T/err
    "$@" >"$T/out" 2>"$T/err"; rc=$?
}

# the commands, from the top-level help (generated from the same table)
run "$BL" --help
[ $rc = 0 ] && ok "betlab --help" || bad "betlab --help exits $rc"
cmds=$(sed -n '/^commands:/,/^$/p' "$T/out" | awk 'NF > 1 { print $1 }')
[ -n "$cmds" ] && ok "commands listed: $(echo $cmds)" || bad "no commands in betlab --help"
for c in info train run console import faults devices cluster subset; do
    echo "$cmds" | grep -qx "$c" || bad "betlab --help does not list $c"
done

for c in $cmds; do
    run "$BL" "$c" --help
    if [ $rc != 0 ]; then bad "$c --help exits $rc"; sed 's/^/  | /' "$T/err" | head -5; continue; fi
    grep -q "usage: betlab $c" "$T/out" || { bad "$c --help has no usage line"; continue; }
    cp "$T/out" "$T/help"
    # options of a command with a table: each listed on a line of its own with help text
    "$BL" help --man "$c" >"$T/man" 2>&1
    missing=""
    for o in $(sed -n 's/^\.R*B* *\[* *\\-\\-\([a-zA-Z0-9\\-]*\).*/\1/p' "$T/man" | sed 's/\\-/-/g'); do
        grep -q -- "--$o\b" "$T/help" || missing="$missing --$o"
    done
    [ -z "$missing" ] && ok "$c --help lists its options" || bad "$c --help lacks$missing"
    grep -q -- "-h, --help" "$T/help" || [ ! -s "$T/man" ] || bad "$c --help does not list --help"
    run "$BL" help "$c"
    if [ $rc = 0 ] && cmp -s "$T/out" "$T/help"; then ok "betlab help $c = betlab $c --help"
    else bad "betlab help $c differs from betlab $c --help ($rc)"; fi
done

# did you mean: a typo of a command
run "$BL" evl
n=$(wc -l <"$T/err")
if [ $rc = 2 ] && grep -q "unknown command 'evl'; did you mean eval?" "$T/err" && [ "$n" -le 3 ]; then
    ok "betlab evl suggests eval (exit 2, $n line)"
else bad "betlab evl: exit $rc, $n lines"; sed 's/^/  | /' "$T/err" | head -5; fi
run "$BL" frobnicate
n=$(wc -l <"$T/err")
[ $rc = 2 ] && [ "$n" -le 3 ] && ok "unknown command without a near one: exit 2, $n line" \
    || bad "betlab frobnicate: exit $rc, $n lines"
run "$BL" help evl
[ $rc = 2 ] && grep -q "did you mean eval?" "$T/err" && ok "betlab help evl suggests eval" \
    || bad "betlab help evl: exit $rc"

# did you mean: a typo of an option
run "$BL" cluster --data blobs:100,2,3 --k 3 --thread 2
if [ $rc = 2 ] && grep -q "^betlab: cluster: unknown option '--thread'; did you mean --threads?" "$T/err"
then ok "--thread suggests --threads"; else bad "--thread: exit $rc"; cat "$T/err"; fi
run "$BL" info --jsn x.bnn
[ $rc = 2 ] && grep -q "did you mean --json?" "$T/err" && ok "--jsn suggests --json" \
    || bad "--jsn: exit $rc"

# an error is printed once, with the command's prefix, then the usage
run "$BL" cluster --data blobs:100,2,3 --k 3 --threads x
if [ $rc = 2 ] && [ "$(grep -c '^betlab: ' "$T/err")" = 1 ] &&
   grep -q "^betlab: cluster: --threads wants an integer in 1..1024, not 'x'$" "$T/err" &&
   grep -q "^usage: betlab cluster" "$T/err"; then ok "range error printed once with prefix"
else bad "range error: exit $rc"; sed 's/^/  | /' "$T/err"; fi
run "$BL" train --out "$T/m.bnn" --arch fc --data x --epochs 1 --lr 0
[ $rc = 2 ] && grep -q "^betlab: train: --lr wants a number in (0, 10], not '0'$" "$T/err" \
    && ok "real range from the table" || { bad "train --lr 0: exit $rc"; cat "$T/err"; }
run "$BL" train --arch fc
[ $rc = 2 ] && grep -q "^betlab: train: --out is required$" "$T/err" && ok "required option" \
    || { bad "train without --out: exit $rc"; cat "$T/err"; }
run "$BL" import --npz a.npz
[ $rc = 2 ] && grep -q "^betlab: import: --arch and --out are required$" "$T/err" \
    && ok "required options named together" || { bad "import: exit $rc"; cat "$T/err"; }
run "$BL" train --flip-mode fast --out x
[ $rc = 2 ] && grep -q "^betlab: train: --flip-mode wants exact or ste, not 'fast'$" "$T/err" \
    && ok "enum words from the table" || { bad "--flip-mode fast: exit $rc"; cat "$T/err"; }
run "$BL" info
[ $rc = 2 ] && grep -q "^betlab: info: expected MODEL$" "$T/err" && ok "missing positional" \
    || { bad "info without MODEL: exit $rc"; cat "$T/err"; }
run "$BL" devices extra
[ $rc = 2 ] && grep -q "^betlab: devices: unexpected argument 'extra'$" "$T/err" \
    && ok "unexpected argument" || { bad "devices extra: exit $rc"; cat "$T/err"; }
run "$BL" info "$T/none.bnn"
[ $rc = 1 ] && [ "$(grep -c '^betlab: info: ' "$T/err")" = 1 ] && ok "runtime error: exit 1, prefixed" \
    || { bad "info missing file: exit $rc"; cat "$T/err"; }

# repeatable --plugin collects every file (the second one is what fails here)
run "$BL" faults --plugin plugins/burst.so --plugin "$T/nope.so"
[ $rc = 1 ] && grep -q "nope.so" "$T/err" && ok "--plugin is repeatable" \
    || { bad "faults --plugin x2: exit $rc"; cat "$T/err"; }

# run: options end at the script; what follows is the script's
printf 'print(#arg, arg[1])\n' >"$T/a.lua"
run "$BL" run --no-init "$T/a.lua" --help -x
[ $rc = 0 ] && grep -q "^2	--help" "$T/out" && ok "run passes --help after the script to it" \
    || { bad "run script --help: exit $rc"; cat "$T/out" "$T/err"; }

[ $fails = 0 ] && echo "0 failed" || echo "$fails failed"
[ $fails = 0 ]
