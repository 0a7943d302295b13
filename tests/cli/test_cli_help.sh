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
for c in info eval train run console import sweep metrics tui faults devices cluster subset; do
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

# eval, sweep, metrics: the numbers the core checks are passed on, and the
# core's message is the usage error (one source of ranges for every front end)
core_err() {  # label expected-message command...: exit 2, the message once, the usage
    label=$1 msg=$2; shift 2
    run "$@"
    if [ $rc = 2 ] && [ "$(grep -c '^betlab: ' "$T/err")" = 1 ] && grep -qxF -- "$msg" "$T/err" &&
       grep -q "^usage: betlab $2 " "$T/err"; then ok "$label"
    else bad "$label: exit $rc"; sed 's/^/  | /' "$T/err"; fi
}
core_err "eval --reps: the evaluator's range" "betlab: eval: reps 200000 outside 1..100000" \
    "$BL" eval --model random:fc --data x --fault bitflip --reps 200000
core_err "eval --threads: the evaluator's range" "betlab: eval: threads 2000 outside 1..1024 (0: all CPUs)" \
    "$BL" eval --model random:fc --data x --threads 2000
core_err "eval --repeat: the evaluator's range" "betlab: eval: timing repeats 5000 outside 1..1000" \
    "$BL" eval --model random:fc --data x --repeat 5000
core_err "eval --threads x: not a number" "betlab: eval: --threads wants an integer, not 'x'" \
    "$BL" eval --model random:fc --data x --threads x
core_err "eval --threads beyond an int" \
    "betlab: eval: --threads 99999999999 is out of range (see betlab eval --help)" \
    "$BL" eval --model random:fc --data x --threads 99999999999
core_err "eval --map with --fault" "betlab: eval: a fault spec and a saved fault map exclude each other" \
    "$BL" eval --model random:fc --data x --fault bitflip --map x.bfm
core_err "eval --simd from the table" "betlab: eval: --simd wants portable, avx2 or avx512, not 'fast'" \
    "$BL" eval --model random:fc --data x --simd fast
core_err "eval without --data" "betlab: eval: --data is required" "$BL" eval --model random:fc
core_err "sweep --ci-width: the evaluator's range" "betlab: sweep: ci_width (CI half-width) 2 outside (0, 1]" \
    "$BL" sweep --model random:fc --data x --fault bitflip --ber 0.1 --ci-width 2
core_err "sweep --min-reps: the evaluator's range" "betlab: sweep: min_reps 200000 outside 1..100000" \
    "$BL" sweep --model random:fc --data x --fault bitflip --ber 0.1 --ci-width 0.1 --min-reps 200000
core_err "sweep BER list: the core's parser" \
    "betlab: sweep: BER list '0,2': each value must be a number in [0, 1], separated by commas" \
    "$BL" sweep --model random:fc --data x --fault bitflip --ber 0,2
core_err "sweep required options" "betlab: sweep: --fault and --ber are required" \
    "$BL" sweep --model random:fc --data x
core_err "metrics --ber: the metrics call's range" "betlab: metrics: BER 1.5 outside [0, 1]" \
    "$BL" metrics --model random:fc --data x --ber 1.5
core_err "metrics --reps: the metrics call's range" "betlab: metrics: reps -1 outside 1..100000" \
    "$BL" metrics --model random:fc --data x --reps -1
core_err "metrics --importance words" \
    "betlab: metrics: --importance wants auto, fast, brute or none, not 'bogus'" \
    "$BL" metrics --model random:fc --data x --importance bogus
core_err "tui --limit: the table's range" "betlab: tui: --limit wants an integer in 0..100000000, not '-1'" \
    "$BL" tui --limit -1
core_err "tui unknown option" "betlab: tui: unknown option '--no-colour'; did you mean --no-color?" \
    "$BL" tui --no-colour
run "$BL" tui --no-color </dev/null
[ $rc = 2 ] && grep -qx "betlab: tui: needs a terminal (use betlab run/eval/sweep for batch work)" "$T/err" \
    && ok "tui without a terminal: exit 2" || { bad "tui without a terminal: exit $rc"; cat "$T/err"; }
for c in eval "sweep --fault bitflip --ber 0.1" metrics; do
    run "$BL" $c --model "$T/none.bnn" --data x
    [ $rc = 1 ] && [ "$(grep -c "^betlab: ${c%% *}: " "$T/err")" = 1 ] && ok "${c%% *} runtime error: exit 1, prefixed" \
        || { bad "${c%% *} missing model: exit $rc"; cat "$T/err"; }
done
# the help quotes the core's limits (BL_REPS_MAX, BL_THREADS_MAX, stringified
# at build time: no macro name may leak) and says how --plugin is resolved
run "$BL" eval --help
grep -q -- "--reps R .*1\.\.100000" "$T/out" && grep -q -- "--threads T .*1\.\.1024" "$T/out" \
    && ok "eval --help quotes the evaluator's ranges" || { bad "eval --help ranges"; cat "$T/out"; }
for c in $cmds; do
    run "$BL" $c --help
    grep -q "BL_[A-Z]" "$T/out" && bad "$c --help shows a macro name: $(grep BL_ "$T/out")"
done
for c in eval sweep metrics; do
    run "$BL" $c --help
    grep -q -- "--plugin NAME|FILE" "$T/out" && ok "$c: --plugin NAME|FILE" || bad "$c: --plugin metavar"
done
run "$BL" eval --model random:3-8-3@2 --data x --plugin burst --plugin ./nope.so
[ $rc = 1 ] && grep -q "nope.so" "$T/err" && ok "eval --plugin is repeatable (by name, then file)" \
    || { bad "eval --plugin x2: exit $rc"; cat "$T/err"; }

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
