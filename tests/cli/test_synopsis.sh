#!/bin/sh
# man/betlab.1 agrees with the command table: each command's SYNOPSIS
# block is exactly what `betlab help --man CMD` generates from its option
# table; every command of the table has a SYNOPSIS
# block and an entry in the page; every declared option is described in the
# page.  To fix a failure, paste `betlab help --man CMD` over the command's
# block in the SYNOPSIS and describe new options under COMMANDS.
#   sh tests/cli/test_synopsis.sh ./betlab
BL=${1:-./betlab}
MAN=${MAN:-man/betlab.1}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

[ -f "$MAN" ] || { echo "FAIL: no $MAN (run from the source tree)"; exit 1; }
# one block per line ("\n" joined as "|"), from ".B betlab" to ".br"
blocks() {
    awk '/^\.B betlab$/ { b = $0; next } b != "" { b = b "|" $0 } /^\.br$/ && b != "" { print b; b = "" }' "$@"
}
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$MAN" >"$T/synopsis"
sed '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/d' "$MAN" >"$T/body"
blocks "$T/synopsis" >"$T/man_blocks"

"$BL" --help >"$T/help" || bad "betlab --help failed"
cmds=$(sed -n '/^commands:/,/^$/p' "$T/help" | awk 'NF > 1 { print $1 }')
[ -n "$cmds" ] || bad "no commands in betlab --help"

for c in $cmds; do
    "$BL" help --man "$c" >"$T/gen" 2>"$T/err" || { bad "betlab help --man $c failed"; continue; }
    # every command has an option table now: an empty block is a failure
    [ -s "$T/gen" ] || { bad "$c: betlab help --man $c printed nothing (no option table?)"; continue; }
    blocks "$T/gen" >"$T/gen_block"
    if grep -qxF -f "$T/gen_block" "$T/man_blocks"; then ok "$c: SYNOPSIS matches the table"
    else
        bad "$c: SYNOPSIS differs from the table; it should read:"
        sed 's/^/    /' "$T/gen"
    fi
    # every declared option is described in the page, roff-escaped (\-\-name)
    for o in $(sed -n 's/^\.R*B* *\[* *\\-\\-\([a-zA-Z0-9\\-]*\).*/\1/p' "$T/gen" | sed 's/\\-/-/g'); do
        r=$(printf '%s' "--$o" | sed 's/-/\\-/g')
        grep -qF -- "$r" "$T/body" || bad "$c: option --$o is not described in $MAN"
    done
    # an entry of its own in the page body
    grep -qE "^\.(B|BI|BR|SS)( betlab)? \"?$c( |\"|$)" "$T/body" && ok "$c: described in the page" \
        || bad "$c: no entry in $MAN"
done

[ $fails = 0 ] && echo "0 failed" || echo "$fails failed"
[ $fails = 0 ]
