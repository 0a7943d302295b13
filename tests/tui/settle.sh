#!/bin/sh
# Terminal test: started and left alone (no key at all), the workbench shows
# its finished results: the accuracy with its interval and the clean
# accuracy, the sweep curve, the margin histogram and the importance panel,
# with no job progress left on the status line.  Repeated: a finished
# background job must never go unseen (issue: the job woke the UI before it
# was marked done).  20 starts at 80x24, 3 at other sizes.
#   sh tests/tui/settle.sh ./betlab 80 24
set -u
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
W=${2:-80}; H=${3:-24}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=betlab-settle-$$
T=$(mktemp -d)
trap 'tmux -L $S kill-server 2>/dev/null; sleep 0.2; rm -rf "$T" 2>/dev/null' EXIT
cd "$T" || exit 1
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" LANG=C.UTF-8 LC_ALL=C.UTF-8
unset TMUX NO_COLOR
if [ -f "$ROOT/models/fc-p0.05.bnn" ]; then MODEL=$ROOT/models/fc-p0.05.bnn; else MODEL=random:fc; fi
DATA=fashion-mnist:test
[ -d /usr/share/datasets/fashion-mnist ] || { echo "FAIL: FashionMNIST missing (make deps)"; exit 1; }
N=3; [ "$W" = 80 ] && [ "$H" = 24 ] && N=20
tm() { tmux -L "$S" "$@"; }
screen() { tm capture-pane -p -t t; }
# settled: no job text or placeholder left anywhere, the clean accuracy
# and the panels' titles with their layer are shown
# (below 80x24 only the layers and the console are drawn: the header's
# accuracy and an empty job line are what can be seen there)
settled() {
    sc=$(screen)
    if [ "$W" -lt 80 ] || [ "$H" -lt 24 ]; then
        echo "$sc" | head -1 | grep -q 'acc [0-9]' || return 1
        echo "$sc" | tail -1 | grep -q '%' && return 1
        return 0
    fi
    echo "$sc" | grep -q 'clean [0-9]' || return 1
    echo "$sc" | grep -q 'Margins fc1' || return 1
    echo "$sc" | grep -q 'Importance fc1' || return 1
    echo "$sc" | grep -q -e 'sweeping' -e 'computing' -e 'evaluating' && return 1
    echo "$sc" | tail -1 | grep -q '%' && return 1
    return 0
}
i=1
while [ $i -le $N ]; do
    tm -f /dev/null new-session -d -s t -x "$W" -y "$H" \
        "$BIN tui --no-init --no-mouse --model $MODEL --data $DATA --limit 1000; sleep 60" || exit 1
    k=0
    while ! settled; do
        k=$((k + 1))
        if [ $k -gt 200 ]; then
            echo "FAIL ($W x $H): start $i not settled after 20 s without a key"
            screen
            exit 1
        fi
        sleep 0.1
    done
    tm kill-server 2>/dev/null
    sleep 0.1
    i=$((i + 1))
done
echo "ok $W x $H: settled without a key in $N of $N starts"
