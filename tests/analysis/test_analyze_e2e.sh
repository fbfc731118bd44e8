#!/bin/bash
# test_analyze_e2e.sh — `saetox analyze stats|toxic|split` end to end on the gpt2-tiny fixture
# and the saelens-relu fixture SAE (d_in 64, blocks.1.hook_resid_post):
#  * stats from a cache and from the same text through the model agree up to float rounding
#    (the two paths feed the SAE row blocks of different shapes, so sums round differently):
#    same latents, contexts and tokens, numbers within a relative 2e-5 (tests/tools/csv_close.c);
#  * toxic writes the contract columns, one row per top latent, family columns from split;
#  * bad inputs give a one-line error and exit 1.
set -u
SH=${SAETOX_SHARED:-}
if [ -z "$SH" ] || [ ! -d "$SH/fixtures/gpt2-tiny" ] || [ ! -d "$SH/data/rtp" ]; then
  echo "SKIP: ../shared (fixtures, data) not found"; exit 77
fi
BIN=$SAETOX_BIN
T=${SAETOX_TMP:-/tmp}/analysis_e2e
rm -rf "$T"; mkdir -p "$T"
M=$SH/fixtures/gpt2-tiny; TOK=$SH/data/gpt2-tokenizer; SAE=$SH/fixtures/sae/saelens-relu
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }

head -c 20000 "$SH/data/text/tinyshakespeare.txt" > "$T/shake.txt"
"$BIN" cache --model "$M" --tokenizer "$TOK" --data "text:$T/shake.txt" --hook blocks.1.hook_resid_post \
  --context-size 64 --tokens 1500 --out "$T/c.h5" 2>"$T/err" || { cat "$T/err"; exit 1; }
"$BIN" analyze stats --sae "$SAE" --cache "$T/c.h5" --tokenizer "$TOK" --quiet --out "$T/st_cache"
check "stats from cache" "[ \$? -eq 0 ]"
"$BIN" analyze stats --sae "$SAE" --model "$M" --tokenizer "$TOK" --data "text:$T/shake.txt" \
  --context-size 64 --tokens 1500 --quiet --out "$T/st_text"
check "stats from text" "[ \$? -eq 0 ]"
check "latent_stats.csv header" "[ \"\$(head -1 $T/st_cache/latent_stats.csv)\" = 'sae,latent,fire_freq,mean_act,max_act,q50,q90,q99' ]"
check "latent_stats.csv rows = d_sae" "[ \$(wc -l < $T/st_cache/latent_stats.csv) -eq 257 ]"
check "top_contexts.csv header" "[ \"\$(head -1 $T/st_cache/top_contexts.csv)\" = 'sae,latent,rank,activation,context_before,token,context_after,token_id,token_display' ]"
check "cache and text stats agree" "$SAETOX_CSV_CLOSE $T/st_cache/latent_stats.csv $T/st_text/latent_stats.csv"
check "cache and text contexts agree" "$SAETOX_CSV_CLOSE -g sae,latent $T/st_cache/top_contexts.csv $T/st_text/top_contexts.csv"
# the comparison can fail: a context moved to another latent, or an activation off by 1e-4
sed '3s/^\([^,]*\),\([^,]*\),\([^,]*\),\([^,]*\),/\1,\2,\3,\4,X/' "$T/st_cache/top_contexts.csv" > "$T/tc_text.csv"
check "a changed context is caught" "! $SAETOX_CSV_CLOSE -g sae,latent $T/st_cache/top_contexts.csv $T/tc_text.csv >/dev/null 2>&1"
awk -F, 'BEGIN{OFS=","} NR==2{$4=$4*1.0001} 1' "$T/st_cache/latent_stats.csv" > "$T/ls_off.csv"
check "an activation off by 1e-4 is caught" "! $SAETOX_CSV_CLOSE $T/st_cache/latent_stats.csv $T/ls_off.csv >/dev/null 2>&1"

# toxic: small RTP subsets
head -40 "$SH/data/rtp/toxic.jsonl" > "$T/tox.jsonl"; head -40 "$SH/data/rtp/nontoxic.jsonl" > "$T/clean.jsonl"
"$BIN" analyze split --sae "$SAE" --sae "$SAE" --name narrow --name wide --quiet --out "$T/split"
check "split of an SAE with itself" "[ \$? -eq 0 ] && [ \$(wc -l < $T/split/pairs.csv) -ge 257 ]"
for pol in max token last; do
  "$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$SAE" --name narrow --policy $pol \
    --toxic "jsonl:$T/tox.jsonl#prompt.text" --clean "jsonl:$T/clean.jsonl#prompt.text" \
    --top 7 --families "$T/split" --quiet --out "$T/tox_$pol"
  check "toxic --policy $pol" "[ \$? -eq 0 ] && [ \$(wc -l < $T/tox_$pol/toxic_latents.csv) -eq 8 ]"
done
check "toxic_latents.csv header" "[ \"\$(head -1 $T/tox_max/toxic_latents.csv)\" = 'sae,latent,rank,score,auroc,cohens_d,mean_toxic,mean_clean,mean_diff,fire_rate_toxic,fire_rate_clean,log_odds,family_id,family_size,top_promoted,top_suppressed,top_promoted_ids,top_suppressed_ids' ]"
check "family columns filled" "awk -F, 'NR>1 && (\$13==\"\" || \$14<2){bad=1} END{exit bad}' $T/tox_max/toxic_latents.csv"
check "auroc within [0,1], ranked" "awk -F, 'NR>1{if(\$5<0||\$5>1)bad=1; if(NR>2&&\$4>prev)bad=1; prev=\$4} END{exit bad}' $T/tox_max/toxic_latents.csv"
check "family_effects.csv" "[ -s $T/tox_max/family_effects.csv ]"

# bad inputs
: > "$T/empty.txt"
"$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$SAE" --toxic "text:$T/empty.txt" \
  --clean "jsonl:$T/clean.jsonl#prompt.text" --out "$T/bad" 2>"$T/err"; rc=$?
check "empty toxic set: exit 1, one line" "[ $rc -eq 1 ] && grep -q 'toxic set is empty' $T/err && [ \$(wc -l < $T/err) -eq 1 ]"
check "no output after an error" "[ ! -e $T/bad/toxic_latents.csv ]"
"$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$SAE" --toxic "jsonl:$T/tox.jsonl#prompt.text" \
  --clean "text:$T/empty.txt" --out "$T/bad" 2>"$T/err"; rc=$?
check "empty clean set" "[ $rc -eq 1 ] && grep -q 'clean set is empty' $T/err"
printf 'family_id,sae,latent\n0,narrow,5\n0,narrow,999\n' > "$T/fam.csv"; mkdir -p "$T/badfam"; cp "$T/fam.csv" "$T/badfam/families.csv"
"$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$SAE" --name narrow --toxic "jsonl:$T/tox.jsonl#prompt.text" \
  --clean "jsonl:$T/clean.jsonl#prompt.text" --families "$T/badfam" --out "$T/bad" 2>"$T/err"; rc=$?
check "latent beyond d_sae" "[ $rc -eq 1 ] && grep -q 'beyond d_sae' $T/err"
"$BIN" analyze stats --sae "$SH/fixtures/sae/saelens-relu" --cache "$T/c.h5" --hook blocks.0.hook_resid_post --out "$T/bad" --policy x 2>"$T/err"; rc=$?
check "unknown option: usage exit 2" "[ $rc -eq 2 ]"
"$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$SAE" --toxic x --clean y --policy sometimes --out "$T/bad" 2>"$T/err"; rc=$?
check "bad policy: exit 2" "[ $rc -eq 2 ] && grep -q policy $T/err"
for s in stats toxic split; do "$BIN" analyze $s --help >/dev/null; check "analyze $s --help" "[ \$? -eq 0 ]"; done
echo "$fails failed"
[ $fails -eq 0 ]
