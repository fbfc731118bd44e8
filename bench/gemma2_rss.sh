#!/bin/bash
# gemma2_rss.sh BUILD [DIR]: write a Gemma-2-2B-shaped model with random BF16 weights (2.6 B
# parameters, 5.2 GB; config of google/gemma-2-2b, tied embedding) to DIR (default
# /tmp/saetox_gemma2_2b_rss), run `saetox model-dump` on 32 tokens (a forward through every
# block, the logits of every position) under /usr/bin/time -v, and print the peak RSS.
# Target: <= 6 GB (the weights stay BF16 in the mapping; as F32 they alone were 10.5 GB).
# The folder is kept for reruns; delete it afterwards (rm -rf DIR).
set -euo pipefail
B=${1:?usage: gemma2_rss.sh BUILD [DIR]}; D=${2:-/tmp/saetox_gemma2_2b_rss}
mkdir -p "$D"
if [ ! -s "$D/model.safetensors" ]; then
  /usr/bin/python3 - "$D" <<'PY'
import json, struct, sys
import numpy as np
d, f, L, H, KV, hd, V = 2304, 9216, 26, 8, 4, 256, 256000
D = sys.argv[1]
cfg = {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "attn_logit_softcapping": 50.0,
       "final_logit_softcapping": 30.0, "head_dim": hd, "hidden_act": "gelu_pytorch_tanh",
       "hidden_activation": "gelu_pytorch_tanh", "hidden_size": d, "intermediate_size": f,
       "max_position_embeddings": 8192, "num_attention_heads": H, "num_hidden_layers": L,
       "num_key_value_heads": KV, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
       "sliding_window": 4096, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "vocab_size": V,
       "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0}
json.dump(cfg, open(D + "/config.json", "w"), indent=1)
T = [("model.embed_tokens.weight", (V, d)), ("model.norm.weight", (d,))]
for l in range(L):
    p = "model.layers.%d." % l
    T += [(p + "self_attn.q_proj.weight", (H * hd, d)), (p + "self_attn.k_proj.weight", (KV * hd, d)),
          (p + "self_attn.v_proj.weight", (KV * hd, d)), (p + "self_attn.o_proj.weight", (d, H * hd)),
          (p + "mlp.gate_proj.weight", (f, d)), (p + "mlp.up_proj.weight", (f, d)),
          (p + "mlp.down_proj.weight", (d, f))]
    T += [(p + n + ".weight", (d,)) for n in ("input_layernorm", "post_attention_layernorm",
                                             "pre_feedforward_layernorm", "post_feedforward_layernorm")]
hdr, off = {"__metadata__": {"format": "pt"}}, 0
for n, s in T:
    nb = 2 * int(np.prod(s))
    hdr[n] = {"dtype": "BF16", "shape": list(s), "data_offsets": [off, off + nb]}
    off += nb
h = json.dumps(hdr, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
# one block of random BF16 values (normal, sd 0.02; norms near 0), repeated through each tensor
rng = np.random.default_rng(0)
blk = (rng.standard_normal(1 << 24, dtype=np.float32) * 0.02).view(np.uint32)
blk = ((blk + 0x7FFF + ((blk >> 16) & 1)) >> 16).astype(np.uint16)
with open(D + "/model.safetensors.tmp", "wb") as o:
    o.write(struct.pack("<Q", len(h)) + h)
    for n, s in T:
        left = int(np.prod(s))
        while left:
            k = min(left, blk.size)
            o.write((blk[:k] if len(s) == 2 else np.zeros(k, np.uint16)).tobytes())
            left -= k
import os
os.rename(D + "/model.safetensors.tmp", D + "/model.safetensors")
print("wrote %s: %.2f GB of BF16 weights" % (D, off / 1e9))
PY
fi
IDS=$(seq -s, 100 131)
OUT=$(mktemp /tmp/gemma2_rss_out.XXXXXX.safetensors); trap 'rm -f "$OUT"' EXIT
/usr/bin/time -v "$B/saetox" model-dump --model "$D" --ids "$IDS" --out "$OUT" 2> "$OUT.time" >/dev/null ||
  { cat "$OUT.time"; rm -f "$OUT.time"; exit 1; }
grep -E "Maximum resident|Elapsed|User time|System time" "$OUT.time"
kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT.time"); rm -f "$OUT.time"
awk -v kb="$kb" 'BEGIN { printf "peak RSS %.2f GB (target <= 6 GB): %s\n", kb / 1048576, kb <= 6 * 1048576 ? "ok" : "OVER" }'
