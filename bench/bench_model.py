#!/usr/bin/python3
"""bench_model.py — the PyTorch peer of bench_model.c: the same GPT-2-small shape (124M
parameters, random F32 weights), batch 8 x 128 tokens, forward to blocks.6.hook_resid_post
and the full model with every logit, plain torch ops (torch.no_grad, F32, the given threads).
bench_model runs it when Debian's python3-torch is present and prints the ratios.

usage: /usr/bin/python3 bench/bench_model.py [--threads N] [--reps R]
prints: "peer fwd6 <tok/s>", "peer logits <tok/s>" (best of R), the same per CPU-second
("peer cpu fwd6 ...") and "peer runs ..." lines."""
import argparse
import math
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=0)
ap.add_argument("--reps", type=int, default=3)
a = ap.parse_args()
if a.threads > 0:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)
d, L, V, C, Fd, H = 768, 12, 50257, 1024, 3072, 12
B, T = 8, 128


def rn(*shape, sd=0.02):
    return torch.randn(*shape) * sd


wte, wpe = rn(V, d), rn(C, d, sd=0.01)
blocks = [dict(l1w=torch.ones(d), l1b=torch.zeros(d), aw=rn(d, 3 * d), ab=torch.zeros(3 * d),
               pw=rn(d, d), pb=torch.zeros(d), l2w=torch.ones(d), l2b=torch.zeros(d),
               fw=rn(d, Fd), fb=torch.zeros(Fd), f2w=rn(Fd, d), f2b=torch.zeros(d)) for _ in range(L)]
lnfw, lnfb = torch.ones(d), torch.zeros(d)
mask = torch.full((T, T), float("-inf")).triu(1)


def block(x, p):
    h = F.layer_norm(x, (d,), p["l1w"], p["l1b"], 1e-5)
    qkv = torch.addmm(p["ab"], h.view(-1, d), p["aw"]).view(B, T, 3, H, d // H)
    q, k, v = qkv.unbind(2)
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // H) + mask, -1) @ v
    x = x + torch.addmm(p["pb"], att.transpose(1, 2).reshape(-1, d), p["pw"]).view(B, T, d)
    h = F.layer_norm(x, (d,), p["l2w"], p["l2b"], 1e-5)
    f = F.gelu(torch.addmm(p["fb"], h.view(-1, d), p["fw"]), approximate="tanh")
    return x + torch.addmm(p["f2b"], f, p["f2w"]).view(B, T, d)


def forward(tok, last):
    x = wte[tok] + wpe[:T]
    for l in range(last + 1):
        x = block(x, blocks[l])
    if last < L - 1:
        return x
    return F.layer_norm(x, (d,), lnfw, lnfb, 1e-5).view(-1, d) @ wte.t()


tok = torch.randint(0, V, (B, T))
with torch.no_grad():
    forward(tok, 6)  # warm-up
    for name, last in (("fwd6", 6), ("logits", L - 1)):
        runs, cpu = [], []
        for _ in range(max(1, a.reps)):
            t, c = time.perf_counter(), time.process_time()
            forward(tok, last)
            runs.append(B * T / (time.perf_counter() - t))
            cpu.append(B * T / (time.process_time() - c))
        print("peer runs %s %s  [tok per CPU-second: %s]" % (name, " ".join("%.0f" % r for r in runs),
                                                           " ".join("%.0f" % r for r in cpu)))
        print("peer %s %.1f" % (name, max(runs)))
        print("peer cpu %s %.1f" % (name, max(cpu)))
print("peer threads %d torch %s" % (torch.get_num_threads(), torch.__version__))
