#!/usr/bin/env bash
# Text report: line, word and byte counts and the ten most frequent words of a file.
#
# Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
# go to EXECGOV_OUTPUT, and result.json in the working directory is shown to the user.
set -euo pipefail
export LC_ALL=C

fail() {
    printf 'text-report: %s\n' "$*" >&2
    exit 1
}

inputs=${EXECGOV_INPUTS:-inputs.json}
out=${EXECGOV_OUTPUT:-output}
[ -r "$inputs" ] || fail "cannot read the inputs ($inputs)"
json=$(tr '\n\r\t' '   ' <"$inputs")

# The value of a string input; values with JSON escapes are not expected and read as absent.
json_string() {
    printf '%s' "$json" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"\\\\]*\)\".*/\1/p"
}

# The value of an integer input, or nothing.
json_integer() {
    printf '%s' "$json" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\(-\{0,1\}[0-9]\{1,9\}\).*/\1/p"
}

# A string made safe to place between double quotes in JSON.
json_escape() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    s=${s//$'\r'/\\r}
    s=${s//$'\n'/\\n}
    printf '%s' "$s"
}

doc=$(json_string document)
[ -n "$doc" ] || fail "no file was given (input 'document')"
{ [ -f "$doc" ] && [ -r "$doc" ]; } || fail "the uploaded file is missing ($doc)"
min_len=$(json_integer min_length)
min_len=${min_len:-1}
name=$(basename -- "$doc")

lines=$(awk 'END { print NR }' "$doc")
words=$(wc -w <"$doc")
bytes=$(wc -c <"$doc")

# "count word" pairs, most frequent first, ties alphabetically; awk, not head, ends the
# pipe so no stage is killed by SIGPIPE under pipefail.
top=$(tr -cs 'A-Za-z0-9' '\n' <"$doc" | tr '[:upper:]' '[:lower:]' |
    awk -v m="$min_len" 'length($0) >= m' |
    sort | uniq -c | sort -k1,1nr -k2,2 | awk 'NR <= 10 { print $1, $2 }')

mkdir -p "$out"
{
    printf 'Text report for %s\n\n' "$name"
    printf 'Lines: %s\nWords: %s\nBytes: %s\n\n' "$lines" "$words" "$bytes"
    if [ -z "$top" ]; then
        printf 'No words of at least %s characters.\n' "$min_len"
    else
        printf 'Most frequent words (at least %s characters):\n' "$min_len"
        rank=0
        while read -r count word; do
            rank=$((rank + 1))
            printf '%4d. %-24s %s\n' "$rank" "$word" "$count"
        done <<<"$top"
    fi
} >"$out/report.txt"

{
    printf '{"file": "%s", "lines": %s, "words": %s, "bytes": %s, "top_words": [' \
        "$(json_escape "$name")" "$lines" "$words" "$bytes"
    sep=''
    if [ -n "$top" ]; then
        while read -r count word; do
            printf '%s{"word": "%s", "count": %s}' "$sep" "$word" "$count"
            sep=', '
        done <<<"$top"
    fi
    printf ']}\n'
} >result.json

printf 'Counted %s lines, %s words and %s bytes in %s.\n' "$lines" "$words" "$bytes" "$name"
