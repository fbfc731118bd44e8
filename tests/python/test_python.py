"""test_python.py — the Python package (python/saetox) against the fixtures and the saetox program.

Run by test_python.sh with /usr/bin/python3 after `pip install --target`: model fixtures (logits
and every hook within the C test's tolerances, greedy12 identical), SAE fixtures (hidden_pre,
feature_acts, reconstruction within 1e-5), errors as exceptions with the library's code and
message, zero-copy parameter views, steering, the scorer vs `saetox score-toxicity`, train and
eval_sae vs `saetox train` / `saetox eval-sae`.  Env: SAETOX_BIN, SAETOX_SOURCE, SAETOX_SHARED,
WORK (a scratch folder).  Exit 0 pass, 1 fail, 77 when ../shared is absent (after the checks
that do not need it pass)."""

import ctypes
import json
import os
import subprocess
import sys

import numpy as np

SRC = os.environ["SAETOX_SOURCE"]
BIN = os.environ["SAETOX_BIN"]
WORK = os.environ["WORK"]
SHARED = os.environ.get("SAETOX_SHARED", os.path.join(SRC, "..", "shared"))
sys.path.insert(0, os.path.join(SRC, "tests"))
import st_np  # noqa: E402  (the tests' own numpy safetensors reader, independent of saetox)

import saetox  # noqa: E402

EMB = os.path.join(SRC, "models", "embedded")
fails = 0


def check(cond, msg):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", msg)
    return cond


def expect_error(fn, codes, *needles):
    try:
        fn()
    except saetox.SaetoxError as e:
        ok = e.code in codes and all(n in e.msg for n in needles) and str(e).startswith(e.code_name)
        check(ok, f"error {e.code_name} '{e.msg}': wanted one of {codes} naming {needles}")
        return e
    check(False, f"no SaetoxError (wanted {codes} naming {needles})")
    return None


def run(*args, **kw):
    r = subprocess.run([BIN, *args], capture_output=True, text=True, errors="replace", **kw)
    if r.returncode != 0:
        raise RuntimeError(f"saetox {' '.join(args)} failed: {r.stderr}")
    return r.stdout


print("saetox", saetox.version(), "from", saetox.LIBRARY_PATH)

# ---------------------------------------------------------------- model fixtures
have_shared = os.path.isdir(os.path.join(SHARED, "fixtures"))
if have_shared:
    for name, tol in (("gpt2-tiny", 1e-4), ("gemma2-tiny", 2e-4)):
        d = os.path.join(SHARED, "fixtures", name)
        E = st_np.read(os.path.join(d, "expected.safetensors"))
        m = saetox.Model(d)
        L = m.n_layers
        hooks = ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(L)]
        err = {"resid_pre": 0.0, "resid_post": 0.0, "logits": 0.0}
        for s in range(3):
            ids = E[f"seq{s}.ids"].tolist()
            logits, hk = m.forward(ids, hooks=hooks)
            T = len(ids)
            check(logits.shape == (T, m.vocab_size) and logits.dtype == np.float32, f"{name} logits shape")
            check(all(hk[h].shape == (T, m.d_model) and hk[h].dtype == np.float32 for h in hooks),
                  f"{name} hook shapes")
            err["resid_pre"] = max(err["resid_pre"], np.abs(hk[hooks[0]] - E[f"seq{s}.resid_pre.0"]).max())
            for i in range(L):
                e = np.abs(hk[f"blocks.{i}.hook_resid_post"] - E[f"seq{s}.resid_post.{i}"]).max()
                err["resid_post"] = max(err["resid_post"], e)
            pos = E[f"seq{s}.logits_pos"]
            err["logits"] = max(err["logits"], np.abs(logits[pos] - E[f"seq{s}.logits"]).max())
            check(np.array_equal(logits.argmax(axis=1), E[f"seq{s}.argmax"]), f"{name} seq{s} argmax")
            # hooks without logits, and resid_pre L+1 == resid_post L
            none, hk2 = m.forward(ids, hooks=["blocks.1.hook_resid_pre", "blocks.0.hook_resid_post"], logits=False)
            check(none is None and np.array_equal(hk2["blocks.1.hook_resid_pre"], hk[hooks[1]])
                  and np.array_equal(hk2["blocks.0.hook_resid_post"], hk[hooks[1]]), f"{name} logits=False hooks")
        print(f"{name}: max |err| resid_pre.0 {err['resid_pre']:.3g}, resid_post {err['resid_post']:.3g}, "
              f"logits {err['logits']:.3g} (tol {tol})")
        check(max(err.values()) <= tol, f"{name}: errors {err} above {tol}")
        g = m.generate(E["seq1.ids"].tolist(), 12, greedy=True)
        check(g == E["seq1.greedy12"].tolist(), f"{name} greedy12 {g} vs {E['seq1.greedy12'].tolist()}")
        print(f"{name}: greedy12 {'identical' if g == E['seq1.greedy12'].tolist() else 'DIFFERS'}")
        # token ids beyond the vocabulary are the library's error
        expect_error(lambda: m.forward([0, m.vocab_size]), (saetox.SX_EINVAL, saetox.SX_ECORRUPT, saetox.SX_ERROR),
                     str(m.vocab_size))
        m.close()

    # ------------------------------------------------------------ SAE fixtures
    for fx, path in (("saelens-relu", ""), ("saelens-jumprelu", ""), ("gemmascope-jumprelu", "params.npz")):
        d = os.path.join(SHARED, "fixtures", "sae", fx)
        E = st_np.read(os.path.join(d, "expected.safetensors"))
        sae = saetox.SAE(os.path.join(d, path) if path else d)
        check((sae.d_in, sae.d_sae) == (64, 256), f"{fx} dims {sae.d_in} {sae.d_sae}")
        check(sae.arch == ("standard" if fx == "saelens-relu" else "jumprelu"), f"{fx} arch {sae.arch}")
        f, pre = sae.encode(E["x"], return_hidden_pre=True)
        rec = sae.decode(f)
        e1, e2, e3 = (np.abs(a - E[k]).max() for a, k in ((pre, "hidden_pre"), (f, "feature_acts"),
                                                           (rec, "reconstruction")))
        print(f"{fx}: max |err| hidden_pre {e1:.3g} feature_acts {e2:.3g} reconstruction {e3:.3g} (tol 1e-5)")
        check(max(e1, e2, e3) <= 1e-5, f"{fx}: errors {e1} {e2} {e3}")
        # float64 input, a single row and [a, b, d_in] batches give the same numbers
        check(np.array_equal(sae.encode(E["x"].astype(np.float64)), f), f"{fx} float64 input")
        check(np.abs(sae.encode(E["x"][3]) - f[3]).max() <= 1e-5, f"{fx} 1-D input")
        check(np.abs(sae.encode(E["x"].reshape(4, 5, 64)).reshape(20, 256) - f).max() <= 1e-5, f"{fx} 3-D input")
        # the parameters as stored in the file, and W_dec is a view of the library's memory
        if path:
            W = np.load(os.path.join(d, path))["W_dec"]
        else:
            W = st_np.read(os.path.join(d, "sae_weights.safetensors"))["W_dec"]
        Wd = sae.W_dec
        check(Wd.shape == (256, 64) and Wd.dtype == np.float32 and np.array_equal(Wd, W), f"{fx} W_dec values")
        addr = saetox._LIB.sx_capi_sae_param(sae._h, b"W_dec")
        check(Wd.__array_interface__["data"][0] == addr and not Wd.flags.owndata, f"{fx} W_dec is not a view")
        check(np.shares_memory(Wd, sae.W_dec) and not Wd.flags.writeable, f"{fx} W_dec views share memory")
        check((sae.threshold is None) == (fx == "saelens-relu"), f"{fx} threshold presence")
        print(f"{fx}: hook_name {sae.hook_name!r}, W_dec view at 0x{addr:x}")
    # a view keeps its SAE alive
    v = saetox.SAE(os.path.join(SHARED, "fixtures", "sae", "saelens-relu")).W_dec
    check(float(np.abs(v).sum()) > 0, "W_dec view after its SAE object went out of scope")
    del v

# ---------------------------------------------------------------- errors
missing = os.path.join(WORK, "no-such-sae-folder")
e = expect_error(lambda: saetox.SAE(missing), (saetox.SX_EIO, saetox.SX_ENOTFOUND), missing)
if e:
    print("missing SAE folder:", e)
e = expect_error(lambda: saetox.Model(missing), (saetox.SX_EIO, saetox.SX_ENOTFOUND), missing)
if e:
    print("missing model folder:", e)
m = saetox.Model(EMB)
rng = np.random.default_rng(7)
d = m.d_model
hook = "blocks.2.hook_resid_pre"
d_sae = 256
W_dec = rng.normal(size=(d_sae, d)).astype(np.float32)
W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
W_enc = np.ascontiguousarray(W_dec.T * 0.5)
sae_dir = os.path.join(WORK, "sae-relu")
st_np.write_saelens(sae_dir, "standard", W_enc, np.zeros(d_sae, np.float32) - 0.05, W_dec,
                    np.zeros(d, np.float32), hook)
sae = saetox.SAE(sae_dir)
check(sae.hook_name == hook and sae.d_in == d, f"written SAE: {sae}")
e = expect_error(lambda: sae.encode(np.zeros((3, d - 1), np.float32)), (saetox.SX_EINVAL,), str(d - 1), str(d))
if e:
    print("wrong shape to encode:", e)
expect_error(lambda: sae.decode(np.zeros((3, d), np.float32)), (saetox.SX_EINVAL,), str(d_sae))
expect_error(lambda: sae.encode(np.float32(1)), (saetox.SX_EINVAL,), "scalar")
expect_error(lambda: m.forward([1, 2], hooks=["blocks.9.hook_resid_pre"]), (saetox.SX_ENOTFOUND, saetox.SX_EINVAL),
             "blocks.9")
expect_error(lambda: m.forward([1, 2], hooks=["blocks.0.attn"]), (saetox.SX_EUNSUPPORTED,),
             "blocks.0.attn")
expect_error(lambda: saetox.Steering(sae, [d_sae], "steer", 1.0), (saetox.SX_EINVAL,), str(d_sae))
expect_error(lambda: saetox.Steering(sae, [1], "boost", 1.0), (saetox.SX_EINVAL,), "boost")
r = subprocess.run([sys.executable, "-c", "import saetox"], capture_output=True, text=True,
                   env=dict(os.environ, SAETOX_LIBRARY=missing))
check(r.returncode != 0 and "ImportError" in r.stderr and missing in r.stderr, f"ImportError: {r.stderr[-300:]}")
# without SAETOX_LIBRARY: an installed prefix found by pkg-config (a stand-in prefix here)
pre = os.path.join(WORK, "prefix")
os.makedirs(os.path.join(pre, "lib", "pkgconfig"))
os.symlink(os.path.realpath(saetox.LIBRARY_PATH), os.path.join(pre, "lib", "libsaetox.so"))
with open(os.path.join(pre, "lib", "pkgconfig", "saetox.pc"), "w") as fh:
    fh.write(f"prefix={pre}\nlibdir=${{prefix}}/lib\nName: saetox\nDescription: x\nVersion: 0.3.0\n"
             "Libs: -L${libdir} -lsaetox\n")
env = {k: v for k, v in os.environ.items() if k != "SAETOX_LIBRARY"}
env["PKG_CONFIG_PATH"] = os.path.join(pre, "lib", "pkgconfig")
r = subprocess.run([sys.executable, "-c", "import saetox; print(saetox.LIBRARY_PATH)"], capture_output=True,
                   text=True, env=env)
check(r.returncode == 0 and r.stdout.strip() == os.path.join(pre, "lib", "libsaetox.so"),
      f"library via pkg-config: {r.stdout} {r.stderr[-300:]}")

# ---------------------------------------------------------------- tokenizer and generation vs the program
text = "The weather today is cold, you idiot."
ids = m.tokenize(text)
cli_ids = [int(t) for t in run("tokenize", "--model", EMB, "--text", text).strip().split(",")]
check(ids == cli_ids, f"tokenize {ids} vs CLI {cli_ids}")
check(m.decode(ids) == text, "decode(tokenize(text)) round trip")
g = m.generate(ids, 12, greedy=True)
cli_g = [int(t) for t in run("generate", "--model", EMB, "--ids", ",".join(map(str, ids)), "--greedy",
                             "--max-new-tokens", "12", "--print-ids").strip().splitlines()[-1].split(",")]
check(g == cli_g, f"greedy {g} vs CLI {cli_g}")
s1 = m.generate(ids, 12, temperature=0.9, top_p=0.95, seed=5)
cli_s = [int(t) for t in run("generate", "--model", EMB, "--ids", ",".join(map(str, ids)), "--temperature", "0.9",
                             "--top-p", "0.95", "--seed", "5", "--max-new-tokens", "12",
                             "--print-ids").strip().splitlines()[-1].split(",")]
check(s1 == cli_s, f"sampled {s1} vs CLI {cli_s}")
check(m.generate(text, 12, greedy=True) == g, "generate from a str")

# ---------------------------------------------------------------- steering
_, hk = m.forward(ids, hooks=[hook])
acts = sae.encode(hk[hook])
lat = [int(i) for i in np.argsort(-acts.sum(axis=0))[:4]]
st = saetox.Steering(sae, lat, "steer", alpha=40.0)
gs = m.generate(ids, 12, greedy=True, steering=st)
check(gs != g, f"steering alpha 40 did not change the greedy continuation {g}")
g0 = m.generate(ids, 12, greedy=True, steering=saetox.Steering(sae, lat, "steer", alpha=0.0))
check(g0 == g, f"zero-alpha steering changed the continuation: {g0} vs {g}")
cli_st = [int(t) for t in run("generate", "--model", EMB, "--ids", ",".join(map(str, ids)), "--greedy",
                              "--max-new-tokens", "12", "--sae", sae_dir, "--latents", ",".join(map(str, lat)),
                              "--tier", "steer", "--alpha", "40", "--print-ids").strip().splitlines()[-1].split(",")]
check(gs == cli_st, f"steered {gs} vs CLI {cli_st}")
# the steer tier subtracts alpha * sum_i W_dec[i] at the hook: the captured residual shows it
_, hk_st = m.forward(ids, hooks=[hook], steering=st)
delta = hk[hook] - hk_st[hook]
check(np.abs(delta - 40.0 * W_dec[lat].sum(axis=0)).max() < 1e-3, "forward with steering: x -= alpha sum dec_i")
ab = saetox.Steering(sae, lat, "ablate")
_, hk_ab = m.forward(ids, hooks=[hook], steering=ab)
check(np.abs(sae.encode(hk_ab[hook])[:, lat]).max() < np.abs(acts[:, lat]).max(), "ablate lowers the latents")
sc = saetox.Steering(sae, lat, "steer", alpha=20.0, scales=[2.0] * len(lat))
check(m.generate(ids, 12, greedy=True, steering=sc) == gs, "scales 2 x alpha 20 == alpha 40")
print(f"steering: greedy {g[:6]}.. -> steered {gs[:6]}.. (CLI identical: {gs == cli_st}), alpha 0 unchanged")

# ---------------------------------------------------------------- scorer vs the program
texts = ["Have a lovely day, friend.", "you are a stupid idiot", "I hate you, shut up you moron", "",
         "The committee meets on Tuesday.", "caf\u00e9 na\u00efve \U0001F600"]
p = saetox.score_toxicity(texts)
jl = os.path.join(WORK, "texts.jsonl")
with open(jl, "w", encoding="utf-8") as fh:
    for t in texts:
        fh.write(json.dumps({"text": t}) + "\n")
cli_p = np.array([json.loads(l)["toxicity"] for l in run("score-toxicity", "--in", jl).splitlines()])
check(p.dtype == np.float64 and p.shape == (len(texts),), "score_toxicity dtype/shape")
check(cli_p.shape == p.shape and np.abs(p - cli_p).max() < 1e-12, f"score_toxicity {p} vs CLI {cli_p}")
check(p[2] > p[0], "the insult scores above the greeting")
print("score_toxicity:", np.round(p, 4).tolist(), "max |diff| vs CLI", float(np.abs(p - cli_p).max()))

# ---------------------------------------------------------------- train and eval_sae vs the program
cache = os.path.join(WORK, "c.h5")
demo_data = os.path.join(SRC, "datasets", "demo")
run("cache", "--model", EMB, "--data", f"text:{demo_data}/toxic.txt,text:{demo_data}/clean.txt", "--hook", hook,
    "--context-size", "32", "--tokens", "4096", "--out", cache, "--prepend-bos")
py_out, cli_out = os.path.join(WORK, "train-py"), os.path.join(WORK, "train-cli")
threads = str(saetox._LIB.sx_get_threads())
paths = saetox.train(cache, py_out, widths=[128, 512], arch="topk", k=[8], tokens=40960, batch=256, seed=1)
run("train", "--cache", cache, "--arch", "topk", "--widths", "128,512", "--k", "8", "--batch", "256", "--tokens",
    "40960", "--seed", "1", "--out", cli_out, "--quiet", "--threads", threads)
check([os.path.basename(x) for x in paths] == ["topk-128", "topk-512"], f"train paths {paths}")
for pth in paths:
    a, b = saetox.SAE(pth), saetox.SAE(os.path.join(cli_out, os.path.basename(pth)))
    check(a.hook_name == hook and a.k == 8, f"{pth}: hook {a.hook_name} k {a.k}")
    check(np.array_equal(a.W_dec, b.W_dec) and np.array_equal(a.W_enc, b.W_enc), f"{pth}: weights differ from CLI")
print("train: 2 SAEs, weights identical to `saetox train`")
ev_ids = m.tokenize(open(os.path.join(demo_data, "clean.txt")).read()[:2000])[:120]
rows = saetox.eval_sae(m, paths, ids=ev_ids)
ev_dir = os.path.join(WORK, "eval-cli")
run("eval-sae", "--model", EMB, "--sae", paths[0], "--sae", paths[1], "--ids", ",".join(map(str, ev_ids)),
    "--out", ev_dir)
cli_rows = [json.loads(l) for l in open(os.path.join(ev_dir, "sae_eval.jsonl"))]
for r, c in zip(rows, cli_rows):
    for k in ("l0", "mse", "fvu", "ce_clean", "ce_spliced", "ce_loss_score", "kl_div_score", "dead_frac"):
        check(k in c and abs(r[k] - c[k]) <= 1e-6 * max(1.0, abs(c[k])), f"eval_sae {k} {r[k]} vs CLI {c.get(k)}")
check(len(rows) == 2 and rows[0]["d_sae"] == 128 and rows[0]["n_tokens"] == len(ev_ids), f"eval rows {rows}")
print("eval_sae:", [(os.path.basename(r["sae"]), round(r["ce_loss_score"], 4), round(r["fvu"], 4)) for r in rows])
ev_data = saetox.eval_sae(m, paths[0], data=f"text:{demo_data}/clean.txt", context_size=32, tokens=256)
check(ev_data[0]["n_tokens"] == 256, f"eval_sae on data: {ev_data}")
expect_error(lambda: saetox.eval_sae(m, paths[0]), (saetox.SX_EINVAL,), "ids")
expect_error(lambda: saetox.train(os.path.join(WORK, "none.h5"), py_out + "2", widths=[8], tokens=64),
             (saetox.SX_EIO, saetox.SX_ENOTFOUND), "none.h5")

if fails:
    print(f"{fails} check(s) failed")
    sys.exit(1)
if not have_shared:
    print(f"SKIP: the fixture checks need ../shared ({SHARED} is absent); everything else passed")
    sys.exit(77)
print("all Python API checks passed")
