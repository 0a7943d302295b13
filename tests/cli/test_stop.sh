#!/bin/sh
# Every long job can be stopped, and stopping loses nothing (issue 12, 4):
# - a Lua loop that swallows every error with pcall ends on SIGHUP / SIGTERM
#   within 5 s, in `betlab run` and as a workbench --session file (tmux),
#   with exit 129 / 143, the record autosaved and the terminal restored;
#   Ctrl-C twice ends such a session file and the workbench goes on;
# - `betlab train` on SIGHUP / SIGTERM saves its checkpoint and prints the
#   resume line (exit 129 / 143); bl.train in `betlab run` stops too;
# - a FIFO given as a model, dataset, fault map or script is refused at
#   once (within 1 s) instead of blocking for ever.
#   sh tests/cli/test_stop.sh ./betlab
set -u
BL=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d)
S=betlab-stop-$$
trap 'tmux -L $S kill-server 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" || exit 1
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" LANG=C.UTF-8 LC_ALL=C.UTF-8
unset TMUX NO_COLOR
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
now() { date +%s.%N; }
# wait (at most $2 s) for our child $1 to end; sets st to its exit status,
# or "alive" (then kills it).  Not in $(...): a subshell cannot reap it, and a
# zombie still answers kill -0.
wait_end() {
    i=0; lim=$(($2 * 20))
    while [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ] && kill -0 "$1" 2>/dev/null \
        && [ $i -lt $lim ]; do sleep 0.05; i=$((i + 1)); done
    if [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ] && kill -0 "$1" 2>/dev/null; then
        kill -9 "$1"; wait "$1" 2>/dev/null; st=alive
    else wait "$1"; st=$?; fi
}
sessions() { ls "$XDG_STATE_HOME/betlab/sessions" 2>/dev/null | wc -l; }

cat >loop.lua <<'EOF'
bl.record.start()
local m = bl.model.random("6-8-3", 1)
print("started"); io.stdout:flush()
while true do pcall(function() while true do end end) end
EOF

# ---- betlab run: the pcall loop, SIGHUP and SIGTERM, a second signal
for sig in HUP TERM; do
    want=129; [ $sig = TERM ] && want=143
    before=$(sessions)
    rm -f run.out   # a stale "started" would send the signal too early
    "$BL" run --no-init loop.lua >run.out 2>run.err &
    pid=$!
    i=0; while ! grep -q started run.out && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    kill -$sig $pid
    wait_end $pid 5
    [ "$st" = $want ] && ok "run: pcall loop ended by SIG$sig, exit $st" \
        || { bad "run: pcall loop and SIG$sig: exit $st, wanted $want"; cat run.err; }
    [ "$(sessions)" -gt "$before" ] && ok "run: SIG$sig autosaved the record" \
        || bad "run: SIG$sig: no autosaved record"
done
# a script that catches the error and removes the hook still ends (grace period)
cat >loop2.lua <<'EOF'
print("started"); io.stdout:flush()
local co = coroutine.wrap(function() while true do end end)
co()
EOF
rm -f run.out
"$BL" run --no-init loop2.lua >run.out 2>run.err &
pid=$!
i=0; while ! grep -q started run.out && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $pid
wait_end $pid 5
[ "$st" = 143 ] && ok "run: a loop the hook cannot reach ends after the grace period" \
    || bad "run: coroutine loop and SIGTERM: exit $st, wanted 143"

# ---- bl.train in betlab run: SIGTERM stops it, the record is saved
awk 'BEGIN { srand(7); for (i = 0; i < 400; i++) { a = int(rand()*256); b = int(rand()*256);
      c = int(rand()*256); l = (a >= b && a >= c) ? 0 : (b >= c ? 1 : 2);
      printf "%d,%d,%d,%d,%d,%d,%d\n", a, b, c, int(rand()*256), int(rand()*256), int(rand()*256), l } }' >d.csv
cat >tr.lua <<'EOF'
bl.record.start()
local d = bl.data.load(arg[1])
print("started"); io.stdout:flush()
while true do
  pcall(bl.train, { arch = "6-32-3", data = d, epochs = 100000, batch = 20, threads = 1 })
end
EOF
before=$(sessions)
rm -f run.out
"$BL" run --no-init tr.lua d.csv >run.out 2>run.err &
pid=$!
i=0; while ! grep -q started run.out && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill -TERM $pid
wait_end $pid 5
[ "$st" = 143 ] && ok "run: bl.train under pcall ended by SIGTERM, exit 143" \
    || { bad "run: bl.train and SIGTERM: exit $st"; cat run.err; }
[ "$(sessions)" -gt "$before" ] && ok "run: bl.train: record autosaved" || bad "bl.train: no record"

# ---- betlab train: SIGHUP and SIGTERM checkpoint and say how to resume
for sig in HUP TERM; do
    want=129; [ $sig = TERM ] && want=143
    rm -f m.bnn.ckpt tr.err   # a stale "epoch 1/" would send the signal too early
    "$BL" train --arch 6-32-3 --data d.csv --epochs 100000 --batch 20 --threads 1 \
        --out m.bnn 2>tr.err &
    pid=$!
    i=0; while ! grep -q '^epoch 1/' tr.err && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    kill -$sig $pid
    wait_end $pid 5
    [ "$st" = $want ] && ok "train: SIG$sig exits $st" || { bad "train: SIG$sig: exit $st, wanted $want"; cat tr.err; }
    [ -f m.bnn.ckpt ] && ok "train: SIG$sig saved m.bnn.ckpt" || bad "train: SIG$sig: no checkpoint"
    grep -q "continue with: betlab train --resume m.bnn.ckpt --out m.bnn" tr.err \
        && ok "train: SIG$sig prints the resume line" || { bad "train: SIG$sig: no resume line"; cat tr.err; }
done
"$BL" train --resume m.bnn.ckpt --out m.bnn --data d.csv >/dev/null 2>tr.err &
pid=$!
sleep 0.5; kill -INT $pid; wait_end $pid 5
[ "$st" = 1 ] && ok "train --resume: Ctrl-C still exits 1" || bad "train --resume Ctrl-C: exit $st"

# ---- FIFO inputs are refused at once
mkfifo f.csv f.bnn f.bfm f.lua f.npz
fifo_case() {  # name, command...
    name=$1; shift
    t0=$(now)
    "$@" >fifo.out 2>fifo.err </dev/null &
    pid=$!
    wait_end $pid 2
    dt=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
    if [ "$st" != alive ] && [ "$st" != 0 ] && awk -v d="$dt" 'BEGIN { exit !(d < 1) }' \
        && grep -q "not a regular file" fifo.err; then
        ok "FIFO $name refused in $dt s (exit $st)"
    else
        bad "FIFO $name: exit $st after $dt s"; cat fifo.err
    fi
}
fifo_case "dataset" "$BL" eval --model random:6-8-3 --data f.csv
fifo_case "model" "$BL" eval --model f.bnn --data d.csv
fifo_case "model (info)" "$BL" info f.bnn
fifo_case "fault map" "$BL" eval --model random:6-8-3 --data d.csv --map f.bfm
fifo_case "npz import" "$BL" import --npz f.npz --arch 6-8-3 --out i.bnn
fifo_case "run script" "$BL" run --no-init f.lua
cat >lf.lua <<'EOF'
local ok, e = pcall(bl.data.load, "f.csv"); print(e); assert(not ok)
ok, e = pcall(bl.model.load, "f.bnn"); print(e); assert(not ok)
EOF
t0=$(now)
"$BL" run --no-init lf.lua >fifo.out 2>fifo.err </dev/null &
pid=$!
wait_end $pid 2
[ "$st" = 0 ] && [ "$(grep -c 'not a regular file' fifo.out)" = 2 ] \
    && ok "Lua: bl.data.load and bl.model.load refuse a FIFO" \
    || { bad "Lua FIFO loads: exit $st"; cat fifo.out fifo.err; }

# ---- the workbench: a --session file with the pcall loop (tmux)
if command -v tmux >/dev/null 2>&1; then
    awk 'BEGIN{srand(7); for(i=0;i<40;i++){l=""; for(j=0;j<784;j++) l=l int(rand()*256) ","; print l (i%10)}}' >w.csv
    cat >sess.lua <<'EOF'
bl.record.start()
local m = bl.model.random("6-8-3", 1)
print("looping")
while true do pcall(function() while true do end end) end
EOF
    tm() { tmux -L "$S" "$@"; }
    tui_start() {
        rm -f status
        tm -f /dev/null new-session -d -s t -x 80 -y 24 \
            "$BL tui --no-init --no-mouse --model random:fc --data $T/w.csv --limit 40 --session $T/sess.lua; echo \$? > '$T/status'" \
            || return 1
        tm set-option -t t remain-on-exit on >/dev/null
    }
    tui_pid() { pgrep -f "^$BL tui --no-init --no-mouse --model random:fc --data $T/w.csv" | head -1; }
    for sig in HUP TERM; do
        want=129; [ $sig = TERM ] && want=143
        before=$(sessions)
        tui_start
        i=0; pid=""
        while [ -z "$pid" ] && [ $i -lt 100 ]; do sleep 0.1; pid=$(tui_pid); i=$((i + 1)); done
        sleep 1.5   # the session file is running its loop
        kill -$sig "$pid"
        i=0; while [ ! -s status ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        st=$(cat status 2>/dev/null)
        if [ "$st" = $want ]; then ok "tui --session pcall loop: SIG$sig exits $st within 5 s"
        else bad "tui --session pcall loop: SIG$sig: status '$st', wanted $want"
             tm capture-pane -p -t t; kill -9 "$pid" 2>/dev/null; fi
        [ "$(tm display -p -t t '#{alternate_on}')" = 0 ] && ok "tui: SIG$sig restored the terminal" \
            || bad "tui: SIG$sig left the alternate screen on"
        [ "$(sessions)" -gt "$before" ] && ok "tui: SIG$sig autosaved the record" \
            || bad "tui: SIG$sig: no autosaved record"
        tm kill-server 2>/dev/null; sleep 0.2
    done
    # Ctrl-C twice ends the session file (pcall cannot swallow the second);
    # the workbench stays and q quits with 0
    tui_start
    sleep 2
    tm send-keys -t t C-c; sleep 0.3; tm send-keys -t t C-c
    i=0; while ! tm capture-pane -p -t t | grep -q 'sess.lua:4: in main chunk' && [ $i -lt 50 ]; do
        sleep 0.1; i=$((i + 1)); done
    tm capture-pane -p -t t | grep -q 'sess.lua:4: in main chunk' && ok "tui: Ctrl-C twice stops the session file" \
        || { bad "tui: Ctrl-C did not stop the session file"; tm capture-pane -p -t t; }
    tm send-keys -t t q
    i=0; while [ ! -s status ] && [ $i -lt 50 ]; do
        tm capture-pane -p -t t | grep -q 'quit?' && tm send-keys -t t y
        sleep 0.1; i=$((i + 1)); done
    [ "$(cat status 2>/dev/null)" = 0 ] && ok "tui: q quits after Ctrl-C (exit 0)" \
        || { bad "tui: q after Ctrl-C: status '$(cat status 2>/dev/null)'"; kill -9 "$(tui_pid)" 2>/dev/null; }
    tm kill-server 2>/dev/null
else
    bad "tmux is not installed (make deps)"
fi

[ $fails = 0 ] || { echo "$fails failures"; exit 1; }
echo "all passed"
