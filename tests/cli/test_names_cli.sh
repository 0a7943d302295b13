#!/bin/sh
# CLI tests of names resolved in one place (issue 10): models (file, shipped
# name, random:SPEC[@SEED]), plugins by name along the search path
# (BETLAB_PLUGIN_PATH, ./plugins, the shipped folder), and the rule that the
# core never reads the environment.
#   sh tests/cli/test_names_cli.sh ./betlab
BL=${1:-./betlab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() {  # description, expected status, command...
    desc=$1; want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $desc: exit $got, want $want"; sed 's/^/  out: /' "$T/out" | head -5
        sed 's/^/  err: /' "$T/err" | head -5; fails=$((fails + 1))
    else
        echo "ok: $desc"
    fi
}
contains() {  # description, file, pattern
    if grep -q -- "$3" "$2"; then echo "ok: $1"; else
        echo "FAIL: $1: '$3' not in $2:"; head -20 "$2" | sed 's/^/  | /'; fails=$((fails + 1)); fi
}

# --- the core reads no environment and never re-executes (DESIGN.md)
grep -n 'getenv\|setenv\|execv' src/base/* src/data/* src/bnn/* src/fault/* src/study/* \
    src/cluster/* src/ocl/* src/jobs/* >"$T/grep" 2>/dev/null
if [ -s "$T/grep" ]; then
    echo "FAIL: the core calls getenv/setenv/execv:"; sed 's/^/  | /' "$T/grep"; fails=$((fails + 1))
else
    echo "ok: no getenv/setenv/execv in src/{base,data,bnn,fault,study,cluster,ocl,jobs}"
fi

# --- plugins by name
check "faults --plugin burst (a bare name, from ./plugins)" 0 "$BL" faults --plugin burst
contains "burst is listed" "$T/out" "^burst"
mkdir -p "$T/pa" "$T/pb"
cp plugins/burst.so "$T/pb/mybursts.so"
check "BETLAB_PLUGIN_PATH is searched" 0 env BETLAB_PLUGIN_PATH="$T/pa:$T/pb" "$BL" faults --plugin mybursts
contains "the plugin from BETLAB_PLUGIN_PATH is listed" "$T/out" "^burst"
contains "its source is the file found" "$T/out" "$T/pb/mybursts.so"
check "a path still works" 0 "$BL" faults --plugin plugins/burst.so
check "unknown plugin name is a runtime error" 1 env BETLAB_PLUGIN_PATH="$T/pa" "$BL" faults --plugin nosuch
contains "the error names the plugin" "$T/err" "nosuch.so"
contains "the error lists BETLAB_PLUGIN_PATH's folders" "$T/err" "$T/pa"
contains "the error lists ./plugins" "$T/err" "\./plugins"

# --- models
awk 'BEGIN { s = 5; for (i = 0; i < 40; i++) { for (j = 0; j < 6; j++) {
             s = (s * 1103515245 + 12345) % 2147483648; printf "%d,", int(s / 8388608) }
             print i % 3 } }' >"$T/d.csv"
check "eval --model random:6-4-3@2" 0 "$BL" eval --model random:6-4-3@2 --data "$T/d.csv" --json
contains "the model name is reported" "$T/out" "random:6-4-3@2"
check "info of a random model" 0 "$BL" info random:6-4-3@2
check "bad seed is an error" 1 "$BL" info random:6-4-3@x1
contains "bad seed message names the argument" "$T/err" "random:6-4-3@x1"
contains "bad seed message says seed" "$T/err" "seed"
check "seed beyond 64 bits is an error" 1 "$BL" info random:6-4-3@18446744073709551616
check "unknown model name" 1 "$BL" info no_such_model
contains "unknown model: names it" "$T/err" "no_such_model"
contains "unknown model: says where it looked" "$T/err" "shipped models"
if [ -f models/fc-p0.bnn ]; then
    check "a shipped model by name" 0 "$BL" info fc-p0
    check "a shipped model by name.bnn" 0 "$BL" info fc-p0.bnn
fi
mkdir -p "$T/home/models"
"$BL" run - >/dev/null 2>&1 <<LUA
bl.model.random("6-4-3", 9):save("$T/home/models/tiny.bnn")
LUA
if [ -f "$T/home/models/tiny.bnn" ]; then
    check "BETLAB_HOME's models are shipped names" 0 env BETLAB_HOME="$T/home" "$BL" info tiny
fi

# --- Lua resolves names the same way
cat >"$T/m.lua" <<'LUA'
local m = bl.model.load("random:6-4-3@2")
print("name " .. tostring(m))
print("plugin " .. table.concat(bl.fault.load_plugin("burst"), ","))
local ok, err = pcall(bl.model.load, "random:6-4-3@-1")
print("badseed " .. tostring(ok) .. " " .. err)
LUA
check "Lua: bl.model.load(random:) and load_plugin(name)" 0 "$BL" run "$T/m.lua"
contains "Lua: random model loaded" "$T/out" "^name model random:6-4-3@2"
contains "Lua: plugin by name" "$T/out" "^plugin burst"
contains "Lua: bad seed refused" "$T/out" "^badseed false.*seed"

echo "$fails failed"
[ "$fails" = 0 ]
