#!/bin/bash
# test_compare.sh — `saetox compare` (notebooks-export/compare.c):
#  1. hand-written sae_eval / best_matches / toxic_latents / steering_sweep tables and SAE
#     cfg.json files -> width_comparison.csv compared field by field with the expected text
#     (rows sorted by width, metadata from cfg.json found relative to the eval folder's
#     parent, split share 3/5 and mean children 7/3, the rank-1 toxic latent, the fluency
#     budget skipping a lower-EMT condition above 1.25x the unsteered perplexity and a
#     meandiff baseline, a condition at exactly 1.25x allowed); the PNGs are valid PNGs;
#  2. bad inputs (a missing column, a sweep SAE not in sae_eval, an empty sae_eval, sweep rows
#     that name no SAE among several): one line on stderr, exit 1, no output folder;
#  3. export of the same run folder writes width_comparison.csv and the two plots;
#  4. end to end on a tiny pipeline (cache, train 2 widths, eval-sae, analyze split/toxic,
#     evaluate, compare, export) when ../shared has the gpt2-tiny fixture.
set -u
BIN=${SAETOX_BIN:?}
SH=${SAETOX_SHARED:-}
T=${SAETOX_TMP:-/tmp}/compare
rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails+1)); fi; }
is_png() { # signature, IHDR first, IEND last
  [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] &&
  [ "$(head -c 16 "$1" | tail -c 4)" = "IHDR" ] && [ "$(tail -c 8 "$1" | head -c 4)" = "IEND" ]
}

R=$T/run; mkdir -p "$R/eval" "$R/split" "$R/toxic" "$R/sweep" "$R/saes/topk-16" "$R/saes/topk-64" "$R/saes/gated-64"
EH=sae,d_sae,n_tokens,l0,mse,explained_variance,fvu,ce_clean,ce_spliced,ce_zero,ce_loss_score,kl_spliced,kl_zero,kl_div_score,dead_frac,dense_frac,hook,n_spliced,n_ce
cat > "$R/eval/sae_eval.csv" <<CSV
$EH
saes/topk-64,64,256,8,0.01,0.875,0.125,3,3.1,5,0.95,0.05,1,0.95,0.0625,0.03125,blocks.1.hook_resid_post,250,248
saes/topk-16,16,256,4,0.02,0.75,0.25,3,3.4,5,0.8,0.3,1,0.7,0.125,0,blocks.1.hook_resid_post,250,248
saes/gated-64,64,256,12.5,0.015,0.8,0.2,3,3.2,5,0.9,0.1,1,0.9,0.5,0.25,blocks.1.hook_resid_post,250,248
CSV
echo '{"architecture": "topk", "d_sae": 16, "activation_fn_kwargs": {"k": 4}, "saetox": {"trained_tokens": 1280}}' > "$R/saes/topk-16/cfg.json"
echo '{"architecture": "topk", "d_sae": 64, "activation_fn_kwargs": {}, "k": 8, "saetox": {"trained_tokens": 2560}}' > "$R/saes/topk-64/cfg.json"
echo '{"architecture": "gated", "d_sae": 64, "activation_fn_kwargs": {}}' > "$R/saes/gated-64/cfg.json"
# narrow topk-16: latents 0..4 with 0,2,3,1,2 children -> 3 of 5 split, 7 children
cat > "$R/split/best_matches.csv" <<CSV
sae,latent,best_match,cosine,n_children
topk-16,0,5,0.4,0
topk-16,1,7,0.9,2
topk-16,2,8,0.8,3
topk-16,3,9,0.75,1
topk-16,4,10,0.95,2
topk-64,5,0,0.4,
topk-64,7,1,0.9,
CSV
cat > "$R/toxic/toxic_latents.csv" <<CSV
sae,latent,rank,score,auroc,family_id,family_size
topk-16,5,2,0.5,0.7,,1
topk-16,3,1,0.9,0.91,0,4
topk-64,40,1,0.8,0.88,,1
not-evaluated,7,1,0.99,0.99,,1
CSV
cat > "$R/sweep/steering_sweep.csv" <<CSV
condition,tier,alpha,latents,emt,ppl
none,none,0,,0.5,20
topk-16 ablate,ablate,0,3,0.3,30
topk-16 steer@4,steer,4,3,0.35,24
topk-16 suppress@2,suppress,2,3,0.4,22
topk-64 steer@4,steer,4,40,0.45,25
topk-64 ablate,ablate,0,40,0.44,25.01
meandiff@4,meandiff,4,,0.1,21
CSV
cat > "$T/want.csv" <<CSV
sae,arch,width,k,trained_tokens,l0,fvu,explained_variance,ce_loss_score,kl_div_score,dead_frac,dense_frac,split_wide_sae,split_share,split_mean_children,toxic_latent,toxic_auroc,toxic_family_size,steer_condition,steer_emt,steer_ppl,unsteered_emt,unsteered_ppl
topk-16,topk,16,4,1280,4,0.25,0.75,0.8,0.7,0.125,0,topk-64,0.6,2.333333333,3,0.91,4,topk-16 steer@4,0.35,24,0.5,20
topk-64,topk,64,8,2560,8,0.125,0.875,0.95,0.95,0.0625,0.03125,,,,40,0.88,1,topk-64 steer@4,0.45,25,0.5,20
gated-64,gated,64,,,12.5,0.2,0.8,0.9,0.9,0.5,0.25,,,,,,,,,,0.5,20
CSV
# run from $T: the SAE paths resolve under the eval folder's parent ($R)
"$BIN" compare --eval "$R/eval" --split "$R/split" --toxic "$R/toxic" --sweep "$R/sweep" --out "$T/cmp" 2> "$T/err"
check "compare runs (exit 0)" "[ $? -eq 0 ]"
check "width_comparison.csv is exactly the expected table" "diff -u $T/want.csv $T/cmp/width_comparison.csv"
check "width_scores.png is a PNG" "is_png $T/cmp/plots/width_scores.png"
check "l0_fvu_frontier.png is a PNG" "is_png $T/cmp/plots/l0_fvu_frontier.png"
# a stricter budget: 1.1 x 20 = 22 keeps only suppress@2 for topk-16, nothing for topk-64
"$BIN" compare --eval "$R/eval" --sweep "$R/sweep" --ppl-budget 1.1 --no-plots --out "$T/cmp2" 2> "$T/err"
check "--ppl-budget 1.1 picks suppress@2 and nothing for topk-64" \
  "[ \"\$(cut -d, -f1,19-21 $T/cmp2/width_comparison.csv | sed -n 2,3p | tr '\n' '|')\" = 'topk-16,topk-16 suppress@2,0.4,22|topk-64,,,|' ]"
check "--no-plots draws nothing" "[ ! -e $T/cmp2/plots ]"

# an eval folder with only sae_eval.jsonl (as eval-sae writes it, null = NaN) reads the same
mkdir -p "$R/evalj"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; next }
  { printf "{"; for (i = 1; i <= NF; i++) { v = (h[i] == "sae" || h[i] == "hook") ? "\"" $i "\"" : $i;
    printf "%s\"%s\": %s", (i > 1 ? ", " : ""), h[i], v } print "}" }' "$R/eval/sae_eval.csv" > "$R/evalj/sae_eval.jsonl"
"$BIN" compare --eval "$R/evalj" --split "$R/split" --toxic "$R/toxic" --sweep "$R/sweep" --no-plots --out "$T/cmpj" 2> "$T/err"
check "sae_eval.jsonl alone gives the same table" "diff -u $T/want.csv $T/cmpj/width_comparison.csv"

bad() { # name, expected stderr substring, args...
  local name=$1 want=$2; shift 2
  rm -rf "$T/bad"
  "$BIN" compare "$@" --out "$T/bad" > "$T/out" 2> "$T/err"; local rc=$?
  check "$name: exit 1" "[ $rc -eq 1 ]"
  check "$name: one line on stderr naming it ($want)" "[ \$(wc -l < $T/err) -eq 1 ] && grep -qF -- \"$want\" $T/err"
  check "$name: nothing on stdout, no output" "[ ! -s $T/out ] && [ ! -e $T/bad ]"
}
B=$T/badin; mkdir -p "$B/e1" "$B/e2" "$B/s1" "$B/s2"
cut -d, -f1-10,12- "$R/eval/sae_eval.csv" > "$B/e1/sae_eval.csv"
bad "missing column" "sae_eval.csv:1: missing column 'ce_loss_score'" --eval "$B/e1"
echo "$EH" > "$B/e2/sae_eval.csv"
bad "empty sae_eval" "sae_eval.csv: no SAE rows" --eval "$B/e2"
{ cat "$R/sweep/steering_sweep.csv"; echo 'topk-256 steer@4,steer,4,1,0.2,21'; } > "$B/s1/steering_sweep.csv"
bad "sweep SAE not in eval" "steering_sweep.csv:9: SAE 'topk-256' of condition 'topk-256 steer@4' is not in sae_eval.csv" \
  --eval "$R/eval" --sweep "$B/s1"
printf 'condition,tier,alpha,latents,emt,ppl\nnone,none,0,,0.5,20\nsteer@4,steer,4,3,0.3,21\n' > "$B/s2/steering_sweep.csv"
bad "unnamed sweep rows among 3 SAEs" "steering_sweep.csv:3: condition 'steer@4' names no SAE" --eval "$R/eval" --sweep "$B/s2"
bad "missing eval folder" "sae_eval.csv: not found" --eval "$B/nope"
mkdir -p "$B/j1"; sed 's/"ce_loss_score": [^,]*, //' "$R/evalj/sae_eval.jsonl" > "$B/j1/sae_eval.jsonl"
bad "jsonl without a key" "sae_eval.jsonl:1: missing key 'ce_loss_score'" --eval "$B/j1"
# ... but --sweep-sae names their SAE
"$BIN" compare --eval "$R/eval" --sweep "$B/s2" --sweep-sae topk-64 --no-plots --out "$T/cmp3" 2> "$T/err"
check "--sweep-sae attributes unnamed rows" "grep -q '^topk-64,.*,steer@4,0.3,21,0.5,20\$' $T/cmp3/width_comparison.csv"

# export of the run folder: width_comparison.csv (the same table) and the plots
"$BIN" export --in "$R" --out "$T/report" --no-html --no-notebook --quiet 2> "$T/err"
check "export runs" "[ $? -eq 0 ]"
check "export writes the same width_comparison.csv" "diff -u $T/want.csv $T/report/width_comparison.csv"
check "export draws width_scores.png" "is_png $T/report/plots/width_scores.png"
check "export draws l0_fvu_frontier.png" "is_png $T/report/plots/l0_fvu_frontier.png"

# export is lenient where compare is strict: a sweep SAE that was not evaluated is left out
cp -r "$R" "$T/run2"; cp "$B/s1/steering_sweep.csv" "$T/run2/sweep/"
"$BIN" export --in "$T/run2" --out "$T/report2" --no-html --no-notebook --no-plots --quiet 2> "$T/err"
check "export leaves a sweep SAE outside sae_eval out" "[ $? -eq 0 ] && diff -u $T/want.csv $T/report2/width_comparison.csv"

# ---- end to end on a tiny pipeline ----
if [ -z "$SH" ] || [ ! -d "$SH/fixtures/gpt2-tiny" ] || [ ! -d "$SH/data/rtp" ]; then
  echo "SKIP pipeline: ../shared (fixtures, data) not found"
else
  M=$SH/fixtures/gpt2-tiny; TOK=$SH/data/gpt2-tokenizer; P=$T/pipe
  mkdir -p "$P"
  head -c 20000 "$SH/data/text/tinyshakespeare.txt" > "$T/shake.txt"
  head -30 "$SH/data/rtp/toxic.jsonl" > "$T/tox.jsonl"; head -30 "$SH/data/rtp/nontoxic.jsonl" > "$T/clean.jsonl"
  head -c 400 "$T/shake.txt" | tr -s '\n' | head -3 > "$T/prompts.txt"
  run() { "$@" > "$T/log" 2>&1 || { echo "FAIL: $*"; cat "$T/log"; fails=$((fails+1)); }; }
  run "$BIN" cache --model "$M" --tokenizer "$TOK" --data "text:$T/shake.txt" --hook blocks.1.hook_resid_post \
    --context-size 64 --tokens 1500 --out "$T/c.h5"
  run "$BIN" train --cache "$T/c.h5" --arch topk --widths 32,64 --k 4 --batch 64 --tokens 1280 --quiet --out "$P/saes"
  run "$BIN" eval-sae --model "$M" --tokenizer "$TOK" --sae "$P/saes/topk-32" --sae "$P/saes/topk-64" \
    --data "text:$T/shake.txt" --context-size 32 --tokens 256 --out "$P/eval"
  run "$BIN" analyze split --sae "$P/saes/topk-32" --sae "$P/saes/topk-64" --threshold 0.3 --quiet --out "$P/split"
  run "$BIN" analyze toxic --model "$M" --tokenizer "$TOK" --sae "$P/saes/topk-32" --sae "$P/saes/topk-64" \
    --toxic "jsonl:$T/tox.jsonl#prompt.text" --clean "jsonl:$T/clean.jsonl#prompt.text" \
    --top 3 --families "$P/split" --quiet --out "$P/toxic"
  EM="$T/model"; mkdir -p "$EM"
  ln -sf "$M/config.json" "$M/model.safetensors" "$TOK/encoder.json" "$TOK/vocab.bpe" "$EM/"
  lat=$(sed -n 2p "$P/toxic/toxic_latents.csv" | cut -d, -f2)
  run "$BIN" evaluate --model "$EM" --prompts "$T/prompts.txt" --sae "$P/saes/topk-32" --latents "${lat:-0}" \
    --tiers none,ablate,steer --alphas 1,4 --samples 1 --max-new-tokens 3 --bootstrap 20 --out "$P/steering"
  run "$BIN" compare --eval "$P/eval" --split "$P/split" --toxic "$P/toxic" --sweep "$P/steering" \
    --sweep-sae topk-32 --out "$P/cmp"
  W=$P/cmp/width_comparison.csv
  check "pipeline: two rows, narrow first" "[ \$(wc -l < $W) -eq 3 ] && sed -n 2p $W | grep -q '^topk-32,topk,32,4,1280,' && sed -n 3p $W | grep -q '^topk-64,topk,64,4,1280,'"
  check "pipeline: the narrow row has a split share against topk-64" "sed -n 2p $W | cut -d, -f13-14 | grep -Eq '^topk-64,[0-9.e-]+\$'"
  check "pipeline: toxic latent $lat and its AUROC" "[ \"\$(sed -n 2p $W | cut -d, -f16)\" = '$lat' ] && sed -n 2p $W | cut -d, -f17 | grep -Eq '^[0-9.e-]+\$'"
  check "pipeline: unsteered ppl present for both" "[ -n \"\$(sed -n 2p $W | cut -d, -f23)\" ] && [ -n \"\$(sed -n 3p $W | cut -d, -f23)\" ]"
  check "pipeline: PNGs" "is_png $P/cmp/plots/width_scores.png && is_png $P/cmp/plots/l0_fvu_frontier.png"
  mkdir -p "$T/pj/eval"; cp "$P/eval/sae_eval.jsonl" "$T/pj/eval/"; ln -s "$P/saes" "$T/pj/saes"
  run "$BIN" compare --eval "$T/pj/eval" --split "$P/split" --toxic "$P/toxic" --sweep "$P/steering" \
    --sweep-sae topk-32 --no-plots --out "$T/pj/cmp"
  check "pipeline: eval-sae's sae_eval.jsonl gives the same table as its CSV" "diff -u $W $T/pj/cmp/width_comparison.csv"
  run "$BIN" export --in "$P" --out "$P/report" --no-html --no-notebook --quiet
  check "pipeline: export writes width_comparison.csv" "[ -s $P/report/width_comparison.csv ] && is_png $P/report/plots/width_scores.png"
fi
echo "$fails failed"
[ $fails -eq 0 ]
