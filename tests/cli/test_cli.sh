#!/bin/sh
# CLI tests: drive the real binary, check output and exit status.
#   sh tests/cli/test_cli.sh ./betlab
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

check "--version" 0 "$BL" --version
contains "version string" "$T/out" "^betlab [0-9]"
check "--help" 0 "$BL" --help
contains "help lists eval" "$T/out" "eval"
check "unknown command is a usage error" 2 "$BL" frobnicate
check "eval without arguments is a usage error" 2 "$BL" eval
contains "usage line printed" "$T/err" "usage: betlab eval"
check "bad --threads is a usage error" 2 "$BL" eval --model random:fc --data x --threads zero
check "info needs a model" 2 "$BL" info
check "missing model file is a runtime error" 1 "$BL" info "$T/nope.bnn"
contains "error names the file" "$T/err" "nope.bnn"

check "info on a random model" 0 "$BL" info random:70-65-3@5
contains "info lists layers" "$T/out" "fc2"
contains "info shows stored bits" "$T/out" "4745"
check "info --json" 0 "$BL" info --json random:vgg3
contains "json has layers" "$T/out" '"layers"'
contains "json has stored bits" "$T/out" '"stored_bits": 6480448'

# a tiny labelled CSV: 3 features + label
printf 'a,b,c,label\n1,2,3,0\n4,5,6,1\n7,8,9,2\n0,0,0,1\n' >"$T/tiny.csv"
check "eval on CSV with a random model" 0 "$BL" eval --model random:3-8-3@2 --data "$T/tiny.csv" --json
for k in accuracy images seconds images_per_s bmacs_per_s; do
    contains "eval json has $k" "$T/out" "\"$k\""
done
contains "eval counted 4 images" "$T/out" '"images": 4'
check "eval shape mismatch is a runtime error" 1 "$BL" eval --model random:5-3 --data "$T/tiny.csv"
printf 'garbage\x00\x01' >"$T/bad.bnn"
check "corrupt model file is a runtime error" 1 "$BL" eval --model "$T/bad.bnn" --data "$T/tiny.csv"
contains "corrupt model error names the file" "$T/err" "bad.bnn"

if [ -d /usr/share/datasets/fashion-mnist ]; then
    check "eval on FashionMNIST" 0 "$BL" eval --model random:fc --data fashion-mnist:test --limit 500 --threads 2 --json
    contains "500 images" "$T/out" '"images": 500'
    check "same result with 1 thread and portable code" 0 sh -c \
        "'$BL' eval --model random:fc --data fashion-mnist:test --limit 500 --threads 1 --simd portable --json | grep correct > '$T/a'; \
         '$BL' eval --model random:fc --data fashion-mnist:test --limit 500 --threads 2 --json | grep correct > '$T/b'; cmp '$T/a' '$T/b'"
fi
echo "$fails failed"
[ "$fails" = 0 ]
