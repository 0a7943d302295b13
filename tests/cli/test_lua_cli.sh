#!/bin/sh
# Lua front end: tests/lua/test_*.lua through `betlab run`, record and
# replay across processes, script errors and exit codes, init.lua, Ctrl-C
# and SIGHUP, the man page's examples, sessions in quick mode, and the
# console driven through a pseudo-terminal.
#   sh tests/cli/test_lua_cli.sh ./betlab
BL=${1:-./betlab}
case $BL in /*) ;; *) BL=$(pwd)/$BL ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" HOME="$T/home"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }


# 1. Lua test scripts
for t in tests/lua/test_*.lua; do
    d=$(mktemp -d "$T/lt.XXXX")
    if BL_TEST_TMP=$d "$BL" run --no-init "$t" >"$d/out" 2>&1; then ok "$t: $(tail -1 "$d/out")"
    else bad "$t"; sed 's/^/    | /' "$d/out" | tail -20; fi
done

# 2. record in one process, replay in another: identical numbers
mkdir -p "$T/rec"
"$BL" run --no-init tests/lua/test_record.lua record "$T/rec" >"$T/rec/a" 2>&1 || bad "record"
"$BL" run --no-init tests/lua/test_record.lua replay "$T/rec" >"$T/rec/b" 2>&1 || bad "replay"
if cmp -s "$T/rec/a" "$T/rec/b" && [ -s "$T/rec/a" ]; then ok "replay reproduces the numbers"
else bad "replay differs"; diff "$T/rec/a" "$T/rec/b" | head; fi
"$BL" run --no-init "$T/rec/rec.lua" >/dev/null 2>&1 && ok "betlab run RECORD" || bad "betlab run RECORD"

# 3. scripts: arg, stdin, errors
cat >"$T/args.lua" <<'LUA'
print(arg[0], arg[1], arg[2], select("#", ...))
LUA
out=$("$BL" run --no-init "$T/args.lua" a "b c" 2>&1)
[ "$out" = "$T/args.lua	a	b c	2" ] && ok "arg table and ..." || bad "arg table: $out"
out=$(echo 'print(1 + 1)' | "$BL" run --no-init - 2>&1)
[ "$out" = "2" ] && ok "run - reads stdin" || bad "run -: $out"
printf 'local function f() error("deep failure") end\nf()\n' >"$T/err.lua"
"$BL" run --no-init "$T/err.lua" >"$T/err.out" 2>"$T/err.err"; rc=$?
if [ $rc = 1 ] && grep -q "deep failure" "$T/err.err" && grep -q "stack traceback" "$T/err.err" \
   && grep -q "in local 'f'\|in function 'f'\|in upvalue 'f'" "$T/err.err"; then ok "error: message + traceback, exit 1"
else bad "error exit ($rc)"; cat "$T/err.err"; fi
echo 'x = = 1' >"$T/syn.lua"
"$BL" run --no-init "$T/syn.lua" 2>"$T/syn.err"; rc=$?
[ $rc = 1 ] && grep -q "syn.lua:1:" "$T/syn.err" && ok "syntax error exits 1" || bad "syntax error ($rc)"
"$BL" run --no-init "$T/missing.lua" 2>/dev/null; [ $? = 1 ] && ok "missing script exits 1" || bad "missing script"
"$BL" run 2>/dev/null; [ $? = 2 ] && ok "no script: usage error 2" || bad "usage error"
"$BL" run --bogus x.lua 2>/dev/null; [ $? = 2 ] && ok "bad option: 2" || bad "bad option"

# 4. init.lua (never written by betlab), --no-init
mkdir -p "$XDG_CONFIG_HOME/betlab"
echo 'INIT_RAN = "yes"' >"$XDG_CONFIG_HOME/betlab/init.lua"
out=$(echo 'print(INIT_RAN)' | "$BL" run - 2>&1)
[ "$out" = "yes" ] && ok "init.lua runs" || bad "init.lua: $out"
out=$(echo 'print(INIT_RAN)' | "$BL" run --no-init - 2>&1)
[ "$out" = "nil" ] && ok "--no-init skips it" || bad "--no-init: $out"
echo 'error("bad init")' >"$XDG_CONFIG_HOME/betlab/init.lua"
echo 'print("after")' | "$BL" run - >"$T/i.out" 2>"$T/i.err"; rc=$?
[ $rc = 1 ] && grep -q "bad init" "$T/i.err" && ok "failing init.lua reported, exit 1" || bad "init error ($rc)"
rm -f "$XDG_CONFIG_HOME/betlab/init.lua"
# package.path has no relative entries; betlab's lua/ is on it
out=$(echo 'print(package.path:find("%./") == nil, package.path:find("/lua/%?%.lua") ~= nil)' | "$BL" run --no-init - 2>&1)
[ "$out" = "true	true" ] && ok "package.path" || bad "package.path: $out"

# 5. Ctrl-C: a Lua loop and a long C call (sweep) stop with an error
"$BL" run --no-init - >"$T/int.out" 2>&1 <<'LUA' &
print("looping"); io.stdout:flush()
while true do end
LUA
pid=$!; sleep 0.5; kill -INT $pid; wait $pid; rc=$?
[ $rc = 1 ] && grep -q "interrupted" "$T/int.out" && ok "Ctrl-C stops a Lua loop" || bad "SIGINT loop ($rc)"
"$BL" run --no-init - >"$T/int2.out" 2>&1 <<'LUA' &
local m = bl.model.random("784-256-256-10", 1)
local ds = bl.data.random(2000, { seed = 1 })
print("sweeping"); io.stdout:flush()
bl.sweep{ model = m, data = ds, ber = { 0.01, 0.02, 0.03, 0.04 }, reps = 100000 }
LUA
pid=$!; sleep 1; kill -INT $pid; wait $pid; rc=$?
[ $rc = 1 ] && grep -q "interrupted" "$T/int2.out" && ok "Ctrl-C stops a sweep" || { bad "SIGINT sweep ($rc)"; cat "$T/int2.out"; }

# 6. SIGHUP: the active record is autosaved, exit 129
"$BL" run --no-init - >"$T/hup.out" 2>&1 <<LUA &
bl.record.start("$T/hup-rec.lua")
local ds = bl.data.random(10, { seed = 3 })
print("recording"); io.stdout:flush()
while true do end
LUA
pid=$!; sleep 0.5; kill -HUP $pid; wait $pid; rc=$?
n=$(ls "$XDG_STATE_HOME/betlab/sessions/" 2>/dev/null | wc -l)
[ $rc = 129 ] && [ "$n" -ge 1 ] && grep -q "bl.data.random" "$T/hup-rec.lua" \
    && ok "SIGHUP autosaves the record" || bad "SIGHUP ($rc, $n autosaves)"

# 7. the man page's examples
if [ -f man/betlab-lua.7 ]; then
    awk -v dir="$T" '/^\.EX/{n++; f=dir "/ex" n ".lua"; on=1; next} /^\.EE/{on=0; next}
        on {print > f}' man/betlab-lua.7
    for ex in "$T"/ex*.lua; do
        [ -f "$ex" ] || continue
        sed -i 's/\\e/\\/g; s/\\-/-/g; s/\\(aq/'"'"'/g; s/\\(dq/"/g; s/\\&//g' "$ex"
        if (cd "$T" && "$BL" run --no-init "$ex" >"$ex.out" 2>&1); then :; else
            bad "man example $(basename "$ex")"; sed 's/^/    | /' "$ex" "$ex.out" | head -30; fi
    done
    ok "man page examples ran ($(ls "$T"/ex*.lua 2>/dev/null | wc -l))"
fi

# 8. sessions in quick mode
for s in sessions/*.lua; do
    [ -f "$s" ] || continue
    d=$(mktemp -d "$T/s.XXXX")
    if (cd "$d" && BETLAB_QUICK=1 "$BL" run --no-init "$OLDPWD/$s" --quick >out 2>&1); then
        if ls "$d"/*.csv >/dev/null 2>&1 || [ "$(basename "$s")" = demo.lua ]; then ok "session $s (quick)"
        else bad "session $s wrote no CSV"; fi
    else bad "session $s"; tail -20 "$d/out"; fi
done

# 9. the console through a pseudo-terminal
python3 - "$BL" "$T" <<'PY' && ok "console (pty): multi-line, =expr, error, completion, history" || bad "console (pty)"
import os, pty, sys, time, select
bl, tmp = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(bl, [bl, "console", "--no-init"])
buf = b""
def expect(s, timeout=10):
    global buf
    end = time.time() + timeout
    while s.encode() not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r:
            sys.stderr.write("timeout waiting for %r; got:\n%s\n" % (s, buf.decode(errors="replace")))
            sys.exit(1)
        try:
            buf += os.read(fd, 4096)
        except OSError:
            break
    i = buf.index(s.encode()) + len(s)
    buf = buf[i:]
def send(s):
    os.write(fd, s.encode())
expect("> ")
send("x = 1 +\n"); expect(">> ")
send("41\n"); expect("> ")
send("=x\n"); expect("42")
send("function sq(v)\n"); expect(">> ")
send("return v * v\n"); expect(">> ")
send("end\n"); expect("> ")
send("sq(12)\n"); expect("144")
send("error('kaboom')\n"); expect("kaboom"); expect("> ")
send("bl.fa\t"); expect("ult")
send(".li\t"); expect("st")
send("\n"); expect("> ")
send("m = bl.model.random('16-8-4', 1)\n"); expect("> ")
send("m:che\t"); expect("cksum")
send("()\n"); expect("> ")
send("\x04")
os.waitpid(pid, 0)
h = open(os.path.join(tmp, "state", "betlab", "history")).read()
assert "x = 1 + 41" in h, h
assert "error('kaboom')" in h, h
PY

[ $fail = 0 ] && echo "all Lua CLI tests passed"
exit $fail
