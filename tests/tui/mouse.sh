#!/bin/sh
# Terminal test of the workbench's mouse: runs the real binary (mouse on,
# --ascii so screen columns are byte columns) in a private tmux server at
# W x H and types xterm mouse reports into the pane, as a terminal would:
# a click on the right end of fc2's slider selects fc2 and sets its BER to
# the top of the scale (0.5), the wheel over the accuracy panel steps the
# selected slider down, a click on fc3's name selects fc3.  Every action
# must show up in the console as its Lua call.
#   sh tests/tui/mouse.sh ./betlab 80 24
# Mouse reports: ncurses turns on mode 1000 and reads the X10 encoding
# (tmux-256color's kmous is \E[M): ESC [ M, then 32 + button (0 left
# press, 3 release, 65 wheel down), 32 + 1 + column, 32 + 1 + row.  `tmux
# send-keys -M` only replays a mouse event tmux itself received, so the
# report is sent as literal keys.
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
W=${2:-80}; H=${3:-24}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=betlab-mouse-$$
T=$(mktemp -d)
trap 'tmux -L $S kill-server 2>/dev/null; sleep 0.2; rm -rf "$T" 2>/dev/null' EXIT
cd "$T" || exit 1
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" LANG=C.UTF-8 LC_ALL=C.UTF-8
unset TMUX NO_COLOR
if [ -f "$ROOT/models/fc-p0.05.bnn" ]; then MODEL=$ROOT/models/fc-p0.05.bnn; else MODEL=random:fc; fi
if [ -d /usr/share/datasets/fashion-mnist ]; then DATA=fashion-mnist:test; else
    awk 'BEGIN{srand(7); for(i=0;i<300;i++){l=""; for(j=0;j<784;j++) l=l int(rand()*256) ","; print l (i%10)}}' > d.csv
    DATA=$T/d.csv
fi
tm() { tmux -L "$S" "$@"; }
screen() { tm capture-pane -p -t t; }
fail() { echo "FAIL mouse ($W x $H): $*"; screen; exit 1; }
wait_for() { # grep pattern, timeout 10 s
    i=0
    while [ $i -lt 100 ]; do
        screen | grep -q -- "$1" && return 0
        sleep 0.1; i=$((i + 1))
    done
    fail "timeout waiting for '$1'"
}
byte() { printf "\\$(printf %o "$1")"; }
# mouse BUTTON X Y (0-based cell): the press, and for a click the release
mouse() {
    tm send-keys -t t -l "$(printf '\033[M')$(byte $((32 + $1)))$(byte $((33 + $2)))$(byte $((33 + $3)))"
    [ "$1" = 0 ] && tm send-keys -t t -l "$(printf '\033[M#')$(byte $((33 + $2)))$(byte $((33 + $3)))"
    return 0
}
# row (0-based) and last slider column of a layer's row: "NAME  BITS" then
# the slider cells (-, = and the knob O in --ascii)
row_of() { screen | awk -v n="$1" '$1 == n && $2 ~ /^[0-9.]+[kM]?[-=O]/ {print NR - 1; exit}'; }
slider_end() {
    screen | awk -v n="$1" '$1 == n && match($0, n " +[0-9.]+[kM]?[-=O]+") {print RSTART + RLENGTH - 2; exit}'
}

tm -f /dev/null new-session -d -s t -x "$W" -y "$H" \
    "$BIN tui --no-init --ascii --model $MODEL --data $DATA --limit 1000; echo \$? > '$T/status'" || exit 1
tm set-option -t t remain-on-exit on >/dev/null
wait_for 'acc [0-9]'
[ "$(tm display -p -t t '#{mouse_standard_flag}')" = 1 ] || fail "the workbench did not turn the mouse on"
y=$(row_of fc2); x=$(slider_end fc2)
[ -n "$y" ] && [ -n "$x" ] || fail "no fc2 slider on the screen"
mouse 0 "$x" "$y"
wait_for 'betlab.ui.select("fc2")'
wait_for 'set_ber("fc2", 0.5)'
screen | sed -n "$((y + 1))p" | grep -q 'fc2 .* 0\.5' || fail "fc2's row does not show BER 0.5"
# the wheel over the accuracy panel (right of the layers, top row) steps
# the selected slider: 0.5 -> 0.42
ax=$((x + 12)); [ $ax -lt "$W" ] || ax=$((W - 1))
mouse 65 "$ax" 2
wait_for 'set_ber("fc2", 0.42)'
# a click on a row's name only selects it
y3=$(row_of fc3)
if [ -n "$y3" ]; then
    mouse 0 2 "$y3"
    wait_for 'betlab.ui.select("fc3")'
    screen | grep -q 'set_ber("fc3"' && fail "a click on the name set a BER"
fi
tm send-keys -t t q
i=0
while [ ! -s "$T/status" ] && [ $i -lt 100 ]; do
    screen | grep -q 'quit?' && tm send-keys -t t y
    sleep 0.1; i=$((i + 1))
done
[ "$(cat "$T/status" 2>/dev/null)" = 0 ] || fail "exit status '$(cat "$T/status" 2>/dev/null)'"
echo "ok mouse $W x $H"
