#!/bin/sh
# Terminal test of the workbench: runs the real binary inside a private tmux
# server at W x H: start, move the global BER slider and see the accuracy
# change, help overlay, a Lua line in the console, resize, the cluster
# view (c, Esc), record a
# session, quit (exit status 0, alternate screen left), replay the record.
#   sh tests/tui/workbench.sh ./betlab 80 24
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
W=${2:-80}; H=${3:-24}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=betlab-test-$$
T=$(mktemp -d)
trap 'tmux -L $S kill-server 2>/dev/null; sleep 0.2; rm -rf "$T" 2>/dev/null' EXIT
cd "$T" || exit 1
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" LANG=C.UTF-8 LC_ALL=C.UTF-8
unset TMUX NO_COLOR
if [ -f "$ROOT/models/fc-p0.05.bnn" ]; then MODEL=$ROOT/models/fc-p0.05.bnn; else MODEL=random:fc; fi
if [ -d /usr/share/datasets/fashion-mnist ]; then DATA=fashion-mnist:test; else
    # a small CSV dataset: 784 features then the label
    awk 'BEGIN{srand(7); for(i=0;i<300;i++){l=""; for(j=0;j<784;j++) l=l int(rand()*256) ","; print l (i%10)}}' > d.csv
    DATA=$T/d.csv
fi
tm() { tmux -L "$S" "$@"; }
screen() { tm capture-pane -p -t t; }
fail() { echo "FAIL ($W x $H): $*"; screen; ps -eo pid,stat,etime,args | grep '[b]etlab tui'; exit 1; }
wait_for() { # grep pattern, timeout 10 s
    i=0
    while [ $i -lt 100 ]; do
        screen | grep -q -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    fail "timeout waiting for '$1'"
}
# The workbench runs under a shell that writes its exit status to a file:
# tmux's #{pane_dead_status} is not always filled in by the time the pane
# is marked dead.
start() {
    rm -f "$T/status"
    tm -f /dev/null new-session -d -s t -x "$W" -y "$H" \
        "$BIN tui --no-init --no-mouse --model $MODEL --data $DATA --limit 1000 $*; echo \$? > '$T/status'" || exit 1
    tm set-option -t t remain-on-exit on >/dev/null
}
acc() { screen | head -1 | grep -o 'acc [0-9.]*%' | head -1; }
# Quit and wait for the process to end: q asks "quit?" only while a job
# runs, and on a loaded machine the prompt can take a while, so answer it
# whenever it shows up (10 s at most).
quit_and_wait() {
    tm send-keys -t t q
    i=0
    while [ "$(tm display -p -t t '#{pane_dead}')" != 1 ] && [ $i -lt 100 ]; do
        screen | grep -q 'quit?' && tm send-keys -t t y
        sleep 0.1; i=$((i + 1))
    done
    i=0
    while [ ! -s "$T/status" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    st=$(cat "$T/status" 2>/dev/null)
    [ "$st" = 0 ] || fail "$1: exit status '$st'"
}

start
wait_for 'acc [0-9]'
a0=$(acc)
# global slider ("all layers" row: after the 3 layer rows), up 6 decades to 0.5
tm send-keys -t t j j j L L L L L L
wait_for 'set_ber("\*", 0.5)'
i=0
while [ "$(acc)" = "$a0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(acc)" != "$a0" ] || fail "accuracy did not change ($a0)"
echo "accuracy $a0 -> $(acc)"
# help
tm send-keys -t t '?'
wait_for 'Keys'
tm send-keys -t t x
# console
tm send-keys -t t '`' 'print(6*7 .. "z")' Enter
wait_for '42z'
tm send-keys -t t Escape
# resize
tm resize-window -t t -x 50 -y 16 2>/dev/null || tm refresh-client -t t -C 50,16
wait_for 'acc [0-9]'
tm resize-window -t t -x "$W" -y "$H" 2>/dev/null
wait_for 'acc [0-9]'
# cluster view: c opens it (a Lua call), f(S) and a braille exemplar
# image (a #row label under it) show up, Esc returns to the accuracy
tm send-keys -t t c
wait_for 'betlab.ui.cluster{}'
wait_for 'f(S) [0-9]'
if [ "$H" -ge 20 ]; then
    wait_for '#[0-9]'
    # the row above a label holds braille cells (UTF-8 E2 A0..A3 xx)
    screen | LC_ALL=C awk -v b="$(printf '\342[\240-\243]')" \
        '/#[0-9]/ && prev ~ b {f = 1} {prev = $0} END {exit !f}' || fail "no braille exemplar drawn"
fi
tm send-keys -t t Escape
wait_for 'betlab.ui.cluster(false)'
i=0
while screen | grep -q 'Clustering' && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
screen | grep -q 'Clustering' && fail "Esc did not leave the cluster view"
# record: start, move a slider, stop
tm send-keys -t t r
wait_for 'REC'
tm send-keys -t t k 0 l
wait_for 'set_ber("fc3", 1e-05)'
tm send-keys -t t r
wait_for 'session saved'
rec=$(ls session-*.lua 2>/dev/null | head -1)
[ -n "$rec" ] || fail "no session file"
grep -q 'bl.ui.set_ber("fc3", 1' "$rec" || { cat "$rec"; fail "record lacks the slider call"; }
# quit: asks only while a job runs
quit_and_wait "no clean exit"
[ "$(tm display -p -t t '#{alternate_on}')" = 0 ] || fail "terminal left in the alternate screen"
tm kill-server
# replay the record in a new workbench, on a fresh tmux server: the old
# one may still be shutting down on its socket
S=$S-replay
trap 'for s in $S ${S%-replay} $S-hup; do tmux -L $s kill-server 2>/dev/null; done; sleep 0.2; rm -rf "$T" 2>/dev/null' EXIT
start --session "$rec"
wait_for 'acc [0-9]'
tm send-keys -t t '`' 'print("fc3=" .. betlab.ui.state().ber.fc3)' Enter
wait_for 'fc3=1e-05'
tm send-keys -t t Escape
quit_and_wait "replay run did not exit cleanly"
# SSH drop: SIGHUP while recording restores the terminal and autosaves the
# session record (80 x 24 only, to keep the suite short)
if [ "$W" = 80 ]; then
    tm kill-server
    S=$S-hup
    start
    wait_for 'acc [0-9]'
    tm send-keys -t t r
    wait_for 'REC'
    tm send-keys -t t j j 0 l    # fc1 -> fc3, BER 0, one step up
    wait_for 'set_ber("fc3", 1e-05)'
    shpid=$(tm display -p -t t '#{pane_pid}')
    blpid=$(pgrep -P "$shpid" | head -1)
    [ -n "$blpid" ] || fail "no betlab process under the pane"
    kill -HUP "$blpid"
    i=0
    while [ ! -s "$T/status" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$T/status" ] || fail "SIGHUP did not end the workbench"
    [ "$(tm display -p -t t '#{alternate_on}')" = 0 ] || fail "SIGHUP left the alternate screen on"
    saved=$(ls "$XDG_STATE_HOME"/betlab/sessions/*.lua 2>/dev/null | head -1)
    [ -n "$saved" ] || fail "SIGHUP: no autosaved session record"
    grep -q 'set_ber("fc3", 1' "$saved" || { cat "$saved"; fail "autosaved record lacks the slider call"; }
    echo "SIGHUP: exit status $(cat "$T/status"), record $(basename "$saved")"
fi
echo "ok $W x $H"
