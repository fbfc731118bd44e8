#!/bin/bash
# test_tokenize_cli.sh — `saetox tokenize`: output format (ids comma-separated on one line),
# BOS only where the config says so, --no-special, --decode, --file --lines, errors and exit
# codes.  Skips (77) when ../shared or the saetox binary is absent.
set -u
bin=${SAETOX_BIN:-}
shared=${SAETOX_SHARED:-}
[ -x "$bin" ] || { echo "SKIP: saetox binary not found (SAETOX_BIN)"; exit 77; }
[ -d "$shared/data/gemma-tokenizer" ] && [ -d "$shared/data/gpt2-tokenizer" ] ||
    { echo "SKIP: ../shared/data tokenizers not found"; exit 77; }
gemma=$shared/data/gemma-tokenizer
gpt2=$shared/data/gpt2-tokenizer
tmp=${SAETOX_TMP:-/tmp}/tokenize-cli
mkdir -p "$tmp"
fails=0

expect() { # expect NAME WANT GOT
    if [ "$2" == "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: want [$2] got [$3]"; fails=$((fails + 1)); fi
}

expect "gemma with BOS" "2,4521,235269,970,5929,603,9786" \
    "$("$bin" tokenize --model "$gemma" --text "Hello, my dog is cute")"
expect "gemma --no-special" "4521,235269,970,5929,603,9786" \
    "$("$bin" tokenize --model "$gemma" --text "Hello, my dog is cute" --no-special)"
expect "gpt2 adds nothing" "15496,995" "$("$bin" tokenize --model "$gpt2" --text "Hello world")"
expect "gpt2 --no-special" "15496,995" \
    "$("$bin" tokenize --model "$gpt2" --text "Hello world" --no-special)"
expect "exactly one line" "1" \
    "$("$bin" tokenize --model "$gpt2" --text "a b c d e f g" | wc -l | tr -d ' ')"
expect "gemma empty text" "2" "$("$bin" tokenize --model "$gemma" --text "")"
expect "gpt2 empty text is an empty line" "1:" \
    "$("$bin" tokenize --model "$gpt2" --text "" | wc -l | tr -d ' '):$("$bin" tokenize --model "$gpt2" --text "")"
expect "decode" "Hello, my dog is cute" \
    "$("$bin" tokenize --model "$gemma" --decode 2,4521,235269,970,5929,603,9786 | sed 's/<bos>//')"
printf 'Hello world\nsecond line\n' >"$tmp/lines.txt"
expect "--file --lines" "15496,995
12227,1627" "$("$bin" tokenize --model "$gpt2" --file "$tmp/lines.txt" --lines)"

# errors: one line on stderr naming the problem, exit 1; usage errors exit 2
"$bin" tokenize --model /nonexistent/tokdir --text hi >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "missing dir exit code" "1" "$rc"
expect "missing dir message" "1" "$(grep -c '^saetox tokenize: /nonexistent/tokdir' "$tmp/err")"
expect "missing dir: no stdout" "" "$(cat "$tmp/out")"
"$bin" tokenize --model "$tmp" --text hi >/dev/null 2>"$tmp/err"
expect "dir without tokenizer files" "1:1" "$?:$(grep -c 'no tokenizer files' "$tmp/err")"
"$bin" tokenize --model "$gpt2" >/dev/null 2>&1
expect "no text is a usage error" "2" "$?"
"$bin" tokenize --help >"$tmp/help" 2>&1
expect "--help" "0:1" "$?:$(grep -c -- '--no-special' "$tmp/help")"
"$bin" tokenize --model "$gpt2" --decode 1,x,2 >/dev/null 2>"$tmp/err"
expect "bad --decode list" "1" "$?"

[ "$fails" -eq 0 ] && echo "all tokenize CLI checks passed" && exit 0
echo "$fails tokenize CLI checks failed"
exit 1
