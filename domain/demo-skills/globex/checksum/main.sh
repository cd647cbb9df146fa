#!/usr/bin/env bash
# File checksum: SHA-256, SHA-1 or MD5 of an uploaded file.
#
# Contract: inputs come from the JSON file named by EXECGOV_INPUTS, files to download
# go to EXECGOV_OUTPUT, and result.json in the working directory is shown as a table.
set -euo pipefail
export LC_ALL=C

fail() {
    printf 'checksum: %s\n' "$*" >&2
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

file=$(json_string file)
[ -n "$file" ] || fail "no file was given (input 'file')"
{ [ -f "$file" ] && [ -r "$file" ]; } || fail "the uploaded file is missing ($file)"
algorithm=$(json_string algorithm)
algorithm=${algorithm:-sha256}
case "$algorithm" in
sha256 | sha1 | md5) ;;
*) fail "unknown algorithm '$algorithm' (use sha256, sha1 or md5)" ;;
esac

name=$(basename -- "$file")
size=$(wc -c <"$file")
# Reading stdin keeps odd file names out of the tool's output.
sum=$("${algorithm}sum" <"$file" | cut -d ' ' -f 1)

mkdir -p "$out"
printf '%s  %s\n' "$sum" "$name" >"$out/checksum.txt"
printf '[{"file": "%s", "size_bytes": %s, "algorithm": "%s", "checksum": "%s"}]\n' \
    "$(json_escape "$name")" "$size" "$algorithm" "$sum" >result.json
printf '%s of %s (%s bytes): %s\n' "$algorithm" "$name" "$size" "$sum"
