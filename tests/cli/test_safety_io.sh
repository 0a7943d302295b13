#!/bin/sh
# Data never becomes code, writes never destroy data (issue 12, parts 1-2):
# hostile model names in session records, control bytes on the terminal,
# bytecode refused, non-UTF-8 metadata refused before the old file is
# touched, --csv onto a device / a symlink / stdout, and the session record
# fallback when $XDG_STATE_HOME is unusable.
#   sh tests/cli/test_safety_io.sh ./betlab
BL=${1:-./betlab}
case $BL in /*) ;; *) BL=$(pwd)/$BL ;; esac
SRC=$(pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" HOME="$T/home"
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
sum() { cksum <"$1"; }
ESC=$(printf '\033')

# a good model and a small labelled CSV for it (6 features, 3 classes)
"$BL" import --npz tests/data/import_6-4-3.npz --arch 6-4-3 --out "$T/good.bnn" --name good \
    >/dev/null 2>&1 || bad "import of the fixture"
awk 'BEGIN { s = 7; printf "f1"; for (j = 2; j <= 6; j++) printf ",f%d", j; print ",label";
     for (i = 0; i < 40; i++) { for (j = 0; j < 6; j++) { s = (s * 1103515245 + 12345) % 2147483648;
         printf "%d,", int(s / 8388608) } print i % 3 } }' >"$T/d.csv"
SWEEP="sweep --model $T/good.bnn --data $T/d.csv --fault bitflip --ber 0,0.1 --reps 2"

# --- 1. a record of a hostile model replays without running its text
cat >"$T/hostile.lua" <<'LUA'
local bl = require "betlab"
local m = bl.model.load(arg[1])
m:set_meta("name", "x\nos.execute('touch " .. arg[3] .. "')\n--")
m:save(arg[2])
bl.record.start(arg[4])
local h = bl.model.load(arg[2])
h:set_meta("note", "a\nos.execute('touch " .. arg[3] .. "')\n]]\"\\")
bl.record.stop()
LUA
"$BL" run --no-init "$T/hostile.lua" "$T/good.bnn" "$T/hostile.bnn" "$T/PWNED" "$T/rec.lua" \
    >"$T/out" 2>&1 || { bad "hostile record written"; cat "$T/out"; }
[ -f "$T/PWNED" ] && bad "recording ran the model's text"
grep -q "^os.execute" "$T/rec.lua" && bad "hostile name broke out of the comment:" && cat "$T/rec.lua"
"$BL" run --no-init "$T/rec.lua" >"$T/out" 2>&1 || { bad "hostile record replays"; cat "$T/out"; }
if [ -f "$T/PWNED" ]; then bad "replaying the record ran the model's text"; cat "$T/rec.lua"
else ok "hostile model: record replays without running its text"; fi
grep -q 'x\\nos.execute' "$T/rec.lua" && ok "the name is shown escaped in the comment" \
    || bad "escaped name not in the record"

# --- 1. control bytes never reach the terminal
printf '\033]0;TITLE\007\033[2J' >"$T/esc"
cat >"$T/esc.lua" <<'LUA'
local bl = require "betlab"
local m = bl.model.load(arg[1]); local f = io.open(arg[3]); local e = f:read("a"); f:close()
m:set_meta("name", "evil" .. e); m:set_meta("k" .. e, "v"); m:save(arg[2])
LUA
"$BL" run --no-init "$T/esc.lua" "$T/good.bnn" "$T/esc.bnn" "$T/esc" || bad "ESC model written"
"$BL" info "$T/esc.bnn" >"$T/out" 2>&1 || bad "info on the ESC model"
if grep -q "$ESC" "$T/out"; then bad "betlab info printed a raw ESC byte"
elif grep -q 'evil\\x1b\]0;TITLE\\x07\\x1b\[2J' "$T/out"; then ok "info shows ESC as \\x1b"
else bad "info: escaped name missing"; cat "$T/out"; fi
"$BL" info --json "$T/esc.bnn" >"$T/out" 2>&1
grep -q "$ESC" "$T/out" && bad "info --json printed a raw ESC byte" || ok "info --json escapes ESC"
printf 'a,b,c,d,e,f,label\n1,2,3,4,5,6,0\n1,2,3,4,5,x\033[2J,1\n' >"$T/bad.csv"
"$BL" eval --model "$T/good.bnn" --data "$T/bad.csv" >"$T/out" 2>"$T/err"
if grep -q "$ESC" "$T/err"; then bad "CSV error echoed a raw ESC byte"
elif grep -q 'x\\x1b\[2J' "$T/err"; then ok "CSV error shows the field escaped"
else bad "CSV error message"; cat "$T/err"; fi
printf 'a,b,c,d,e,f,label\n1,2,3,4,5,"6"\033,0\n' >"$T/bad2.csv"
"$BL" eval --model "$T/good.bnn" --data "$T/bad2.csv" >"$T/out" 2>"$T/err"
grep -q "$ESC" "$T/err" && bad "CSV quote error echoed ESC" || ok "CSV quote error escaped"

# --- 1. bytecode refused unless asked for
cat >"$T/mk.lua" <<'LUA'
local f = io.open(arg[1], "wb"); f:write(string.dump(load("print('bytecode ran')"))); f:close()
LUA
"$BL" run --no-init "$T/mk.lua" "$T/bc.luac" || bad "string.dump chunk written"
"$BL" run --no-init "$T/bc.luac" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 1 ] && ! grep -q "bytecode ran" "$T/out" && grep -q "precompiled" "$T/err"; then
    ok "run refuses a string.dump chunk (exit 1)"
else bad "bytecode not refused ($rc)"; cat "$T/out" "$T/err"; fi
out=$("$BL" run --no-init --allow-bytecode "$T/bc.luac" 2>&1)
[ "$out" = "bytecode ran" ] && ok "--allow-bytecode runs it" || bad "--allow-bytecode: $out"
# a damaged chunk: refused as well, never loaded
head -c 40 "$T/bc.luac" >"$T/bc2.luac"; printf 'garbage' >>"$T/bc2.luac"
"$BL" run --no-init "$T/bc2.luac" >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "damaged chunk refused (exit 1)" || bad "damaged chunk: exit $rc"
mkdir -p "$XDG_CONFIG_HOME/betlab"; cp "$T/bc.luac" "$XDG_CONFIG_HOME/betlab/init.lua"
echo 'print("after")' | "$BL" run - >"$T/out" 2>&1
grep -q "bytecode ran" "$T/out" && bad "init.lua bytecode ran" || ok "init.lua is text only too"
rm -f "$XDG_CONFIG_HOME/betlab/init.lua"

# --- 2. non-UTF-8 metadata fails before the old file is touched
cp "$T/good.bnn" "$T/keep.bnn"; before=$(sum "$T/keep.bnn")
"$BL" import --npz tests/data/import_6-4-3.npz --arch 6-4-3 --out "$T/keep.bnn" \
    --name "$(printf 'caf\351')" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 1 ] && [ "$(sum "$T/keep.bnn")" = "$before" ] && grep -q "'name' is not valid UTF-8" "$T/err"
then ok "import --name Latin-1: error naming the field, old file kept"
else bad "import --name Latin-1 ($rc)"; cat "$T/err"; fi
cp tests/data/import_6-4-3.npz "$T/$(printf 'caf\351').npz"
"$BL" import --npz "$T/$(printf 'caf\351').npz" --arch 6-4-3 --out "$T/keep.bnn" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 1 ] && [ "$(sum "$T/keep.bnn")" = "$before" ] && grep -q "not valid UTF-8" "$T/err"
then ok "import of a Latin-1 .npz name: refused, old file kept"
else bad "Latin-1 .npz ($rc)"; cat "$T/err"; fi
L1OUT="$T/$(printf 'caf\351').bnn"
cp "$T/good.bnn" "$L1OUT"
"$BL" train --arch 6-4-3 --data "$T/d.csv" --epochs 1 --out "$L1OUT" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 1 ] && [ "$(sum "$L1OUT")" = "$before" ] && grep -q "\-\-out .* is not valid UTF-8" "$T/err"
then ok "train --out Latin-1: refused before training, old file kept"
else bad "train --out Latin-1 ($rc)"; cat "$T/err"; fi
cat >"$T/l1.lua" <<'LUA'
local bl = require "betlab"
local m = bl.model.load(arg[1])
m:set_meta("name", "caf\233")
m:save(arg[1])
LUA
"$BL" run --no-init "$T/l1.lua" "$T/keep.bnn" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 1 ] && [ "$(sum "$T/keep.bnn")" = "$before" ] && grep -q "not valid UTF-8" "$T/err"
then ok "Lua set_meta Latin-1 + save: error, old file kept"
else bad "Lua set_meta+save ($rc)"; cat "$T/err"; fi
"$BL" info "$T/keep.bnn" >/dev/null 2>&1 && ok "the old model still loads" || bad "old model broken"

# --- 2. --csv onto a device, a symlink, stdout
"$BL" $SWEEP --csv /dev/full >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 1 ] && grep -q "No space left" "$T/err" && [ -c /dev/full ]; then
    ok "--csv /dev/full: ENOSPC reported, exit 1, still a device"
else bad "--csv /dev/full ($rc)"; cat "$T/err"; fi
"$BL" $SWEEP --csv /dev/null >/dev/null 2>&1 && [ -c /dev/null ] && ok "--csv /dev/null stays a device" \
    || bad "--csv /dev/null"
ln -s "$T/target.csv" "$T/link.csv"
"$BL" $SWEEP --csv "$T/link.csv" >/dev/null 2>"$T/err" || { bad "--csv symlink"; cat "$T/err"; }
if [ -L "$T/link.csv" ] && head -1 "$T/target.csv" | grep -q '^ber,accuracy'; then
    ok "--csv through a symlink: target written, link kept"
else bad "--csv symlink replaced or target missing"; ls -l "$T"; fi
"$BL" $SWEEP --csv "$T/link.csv" >/dev/null 2>&1 && [ -L "$T/link.csv" ] \
    && ok "--csv through a symlink onto an existing file" || bad "second write through link"
"$BL" $SWEEP --csv - >"$T/out" 2>"$T/err"; rc=$?
if [ $rc = 0 ] && head -1 "$T/out" | grep -q '^ber,accuracy' && ! grep -q "95% CI" "$T/out" \
   && [ ! -e ./- ]; then ok "--csv - writes the CSV alone to stdout"
else bad "--csv - ($rc)"; cat "$T/out" "$T/err"; fi
"$BL" $SWEEP --csv - --json >/dev/null 2>&1; [ $? = 2 ] && ok "--csv - with --json: usage error" \
    || bad "--csv - --json"
"$BL" $SWEEP --csv /dev/stdout >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q '^ber,accuracy' "$T/out" && ok "--csv /dev/stdout (a pipe or file)" \
    || { bad "--csv /dev/stdout ($rc)"; cat "$T/err"; }
mkdir "$T/adir"
"$BL" $SWEEP --csv "$T/adir" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 1 ] && [ -d "$T/adir" ] && ok "--csv onto a directory refused" || bad "--csv dir ($rc)"
cat >"$T/sv.lua" <<'LUA'
local bl = require "betlab"
local m = bl.model.load(arg[1]); m:save(arg[2])
LUA
ln -s "$T/model_target.bnn" "$T/model_link.bnn"
"$BL" run --no-init "$T/sv.lua" "$T/good.bnn" "$T/model_link.bnn" >/dev/null 2>&1
[ -L "$T/model_link.bnn" ] && "$BL" info "$T/model_target.bnn" >/dev/null 2>&1 \
    && ok "m:save through a symlink keeps the link" || bad "m:save through a symlink"

"$BL" import --npz tests/data/import_6-4-3.npz --arch 6-4-3 --out - >"$T/stdout.bnn" 2>"$T/err"
"$BL" info "$T/stdout.bnn" >/dev/null 2>&1 && grep -q "wrote -" "$T/err" \
    && ok "import --out - writes the model to stdout" || bad "import --out -"

# --- 2. XDG_STATE_HOME unusable: the record goes to a fallback, said on stderr
: >"$T/statefile"
mkdir -p "$T/cwd"
cat >"$T/r.lua" <<'LUA'
local bl = require "betlab"
bl.record.start(); bl.model.random("6-4-3", 1)
LUA
(cd "$T/cwd" && XDG_STATE_HOME="$T/statefile" "$BL" run --no-init "$T/r.lua" >"$T/out" 2>"$T/err")
f=$(ls "$T/cwd"/betlab-session-*.lua 2>/dev/null | head -1)
if [ -n "$f" ] && grep -q "saved to $f" "$T/err" && grep -q 'bl.model.random("6-4-3", 1)' "$f"; then
    ok "XDG_STATE_HOME a regular file: record saved in the current folder, path printed"
else bad "XDG_STATE_HOME fallback at exit"; cat "$T/err"; ls "$T/cwd"; fi
rm -f "$T/cwd"/betlab-session-*.lua
cat >"$T/loop.lua" <<'LUA'
local bl = require "betlab"
bl.record.start(); bl.model.random("6-4-3", 2)
io.stderr:write("ready\n")
while true do end
LUA
(cd "$T/cwd" && XDG_STATE_HOME="$T/statefile" exec "$BL" run --no-init "$T/loop.lua" >"$T/out" 2>"$T/err") &
pid=$!
i=0; while ! grep -q ready "$T/err" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -HUP $pid 2>/dev/null
i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL $pid 2>/dev/null
f=$(ls "$T/cwd"/betlab-session-*.lua 2>/dev/null | head -1)
if [ -n "$f" ] && grep -q "saved to $f" "$T/err"; then
    ok "XDG_STATE_HOME a regular file: record saved on SIGHUP, path printed"
else bad "XDG_STATE_HOME fallback on SIGHUP"; cat "$T/err"; ls "$T/cwd"; fi

# a path that is not UTF-8 stays in info --json, its bad byte escaped
cp "$T"/*.bnn "$T/caf$(printf '\351').bnn" 2>/dev/null || "$BL" import --help >/dev/null
lat=$(ls "$T"/caf*.bnn 2>/dev/null | head -1)
if [ -n "$lat" ] && "$BL" info --json "$lat" | grep -q '"model": ".*caf\\\\xe9.bnn"'; then
    ok "info --json keeps a Latin-1 path, escaped"
else bad "info --json with a Latin-1 path"; fi

[ $fails = 0 ] && echo "all safety I/O tests passed" || echo "$fails failed"
[ $fails = 0 ]
