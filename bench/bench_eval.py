#!/usr/bin/python3
"""bench_eval.py — the PyTorch peer of bench/bench_eval.c: the steering evaluation's sampling
loop (P prompts x k samples x N new tokens, nucleus sampling) on the same GPT-2-small-shaped
model folder, written the way a competent PyTorch user would: all P x k sequences in one batch,
prompts left-padded with an attention mask and prefilled once, the KV cache expanded to the k
samples with repeat_interleave, then one batched decoding step per token (past keys/values
concatenated, as Hugging Face's cache does), HF-style top-p (sorted cumulative softmax) and
torch.multinomial; torch.inference_mode, torch.set_num_threads.  Optional SAE ablation
(x -= sum_i a_i(x) d_i for the given latents of the standard SAE in MODEL/sae) at
blocks.6.hook_resid_pre on every row, prompt and generated.  It gets the prompt token ids
(no tokenizer, no toxicity scoring: saetox's timed command does both on top).

Prints `loop_seconds S` (generation alone) and `total_seconds S` (since start, incl. importing
torch and loading the weights).  Run by bench_eval when /usr/bin/python3 has torch."""
import argparse
import json
import struct
import time

T0 = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + n)
    out = {}
    for name, v in hdr.items():
        if name == '__metadata__':
            continue
        if v['dtype'] != 'F32':
            raise SystemExit('%s: %s is %s, expected F32' % (path, name, v['dtype']))
        a, b = v['data_offsets']
        out[name] = torch.from_numpy(np.array(raw[a:b]).view(np.float32).reshape(v['shape']))
    return out


class GPT2:
    def __init__(self, folder):
        cfg = json.load(open(folder + '/config.json'))
        self.L, self.H, self.d = cfg['n_layer'], cfg['n_head'], cfg['n_embd']
        self.eps = cfg.get('layer_norm_epsilon', 1e-5)
        self.w = read_safetensors(folder + '/model.safetensors')
        self.hook = None  # (layer, fn) applied to resid_pre of that layer

    def forward(self, ids, pos, bias, past):
        """ids, pos [B, T]; bias [B, 1, T, T_past + T] additive mask; past: list of (k, v)."""
        w, B, T, H = self.w, ids.shape[0], ids.shape[1], self.H
        hd = self.d // H
        x = w['wte.weight'][ids] + w['wpe.weight'][pos]
        new_past = []
        for l in range(self.L):
            p = 'h.%d.' % l
            if self.hook and self.hook[0] == l:
                x = self.hook[1](x)
            h = F.layer_norm(x, (self.d,), w[p + 'ln_1.weight'], w[p + 'ln_1.bias'], self.eps)
            qkv = torch.addmm(w[p + 'attn.c_attn.bias'], h.view(-1, self.d), w[p + 'attn.c_attn.weight'])
            q, k, v = qkv.view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4).unbind(0)
            if past:
                k = torch.cat([past[l][0], k], dim=2)
                v = torch.cat([past[l][1], v], dim=2)
            new_past.append((k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) * (hd ** -0.5) + bias, dim=-1) @ v
            att = att.transpose(1, 2).reshape(B * T, self.d)
            x = x + torch.addmm(w[p + 'attn.c_proj.bias'], att, w[p + 'attn.c_proj.weight']).view(B, T, self.d)
            h = F.layer_norm(x, (self.d,), w[p + 'ln_2.weight'], w[p + 'ln_2.bias'], self.eps)
            f = F.gelu(torch.addmm(w[p + 'mlp.c_fc.bias'], h.view(-1, self.d), w[p + 'mlp.c_fc.weight']),
                       approximate='tanh')
            x = x + torch.addmm(w[p + 'mlp.c_proj.bias'], f, w[p + 'mlp.c_proj.weight']).view(B, T, self.d)
        return x, new_past

    def logits(self, x):
        x = F.layer_norm(x, (self.d,), self.w['ln_f.weight'], self.w['ln_f.bias'], self.eps)
        return x @ self.w['wte.weight'].t()


def top_p_sample(logits, top_p, gen):
    """Hugging Face's TopPLogitsWarper, then multinomial."""
    sl, si = torch.sort(logits, descending=False)
    cum = sl.softmax(dim=-1).cumsum(dim=-1)
    remove = cum <= (1 - top_p)
    remove[..., -1:] = False
    logits = logits.masked_fill(remove.scatter(1, si, remove), float('-inf'))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=gen).squeeze(1)


def generate(model, prompts, k, n_new, top_p, gen):
    P, Lmax = len(prompts), max(len(p) for p in prompts)
    ids = torch.zeros(P, Lmax, dtype=torch.long)
    mask = torch.zeros(P, Lmax, dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding
        ids[i, Lmax - len(p):] = torch.tensor(p)
        mask[i, Lmax - len(p):] = 1
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    neg = torch.finfo(torch.float32).min
    causal = torch.ones(Lmax, Lmax, dtype=torch.bool).tril()
    bias = torch.zeros(P, 1, Lmax, Lmax).masked_fill(~(causal[None, None] & mask[:, None, None, :].bool()), neg)
    x, past = model.forward(ids, pos, bias, None)  # prefill once per prompt
    logits = model.logits(x[:, -1]).repeat_interleave(k, dim=0)
    past = [(a.repeat_interleave(k, dim=0), b.repeat_interleave(k, dim=0)) for a, b in past]
    mask = mask.repeat_interleave(k, dim=0)
    last = pos[:, -1].repeat_interleave(k, dim=0)
    out = []
    for t in range(n_new):
        tok = top_p_sample(logits, top_p, gen)
        out.append(tok)
        if t == n_new - 1:
            break
        mask = torch.cat([mask, torch.ones(P * k, 1, dtype=torch.long)], dim=1)
        last = last + 1
        b = torch.zeros(P * k, 1, 1, mask.shape[1]).masked_fill(~mask[:, None, None, :].bool(), neg)
        x, past = model.forward(tok[:, None], last[:, None], b, past)
        logits = model.logits(x[:, -1])
    return torch.stack(out, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', required=True)
    ap.add_argument('--prompt-ids', required=True, help='one prompt per line, comma-separated token ids')
    ap.add_argument('--samples', type=int, default=25)
    ap.add_argument('--new', type=int, default=20)
    ap.add_argument('--top-p', type=float, default=0.9)
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--sae-ablate', default='', help='latents I,J,.. of MODEL/sae to ablate at blocks.6.hook_resid_pre')
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    prompts = [[int(t) for t in line.split(',')] for line in open(a.prompt_ids) if line.strip()]
    model = GPT2(a.model)
    if a.sae_ablate:
        s = read_safetensors(a.model + '/sae/sae_weights.safetensors')
        lat = [int(t) for t in a.sae_ablate.split(',')]
        we, be, wd, bd = s['W_enc'][:, lat].contiguous(), s['b_enc'][lat], s['W_dec'][lat].contiguous(), s['b_dec']

        def ablate(x):
            acts = torch.relu((x - bd) @ we + be)
            return x - acts @ wd
        model.hook = (6, ablate)
    gen = torch.Generator().manual_seed(a.seed)
    with torch.inference_mode():
        t = time.time()
        out = generate(model, prompts, a.samples, a.new, a.top_p, gen)
        loop = time.time() - t
    print('new_tokens %d' % out.numel())
    print('loop_seconds %.4f' % loop)
    print('tokens_per_second %.1f' % (out.numel() / loop))
    print('threads %d' % torch.get_num_threads())
    print('total_seconds %.4f' % (time.time() - T0))


if __name__ == '__main__':
    main()
