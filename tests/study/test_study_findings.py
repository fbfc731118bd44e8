"""test_study_findings.py — `saetox study --recompute` on hand-made study_runs.csv /
study_seeds.csv against the independent reference ref_findings.py: every finding's per-seed
values, mean, t interval and verdict, in scenarios built so that each verdict branch of each
rule is taken (checked below), plus exact hand values of the F6 interpolation."""
import csv
import math
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import ref_findings as ref  # noqa: E402

BIN, TMP = os.environ["SAETOX_BIN"], os.environ.get("SAETOX_TMP", "/tmp")
N, W, M = "topk-8", "topk-32", "matryoshka-32"
RUN_COLS = ["seed", "sae", "set", "condition", "tier", "alpha", "latents", "n_prompts", "n_samples", "emt", "emt_lo",
            "emt_hi", "tox_prob", "tox_prob_lo", "tox_prob_hi", "mean_tox", "mean_tox_lo", "mean_tox_hi", "ppl",
            "ppl_lo", "ppl_hi", "acc", "acc_norm", "acc_n"]
SEED_COLS = ["seed", "narrow_latents", "narrow_parent", "wide_children", "wide_single", "wide_family", "mat_top",
             "mat_group", "mat_later", "causal_latents", "seconds"]
ALPHAS = [1.0, 2.0, 4.0]


def scenario(rng, n_seeds, p, rng2=None):
    """Rows for n_seeds seeds; p: per-method EMT and perplexity-ratio slopes (per unit strength)
    and the noise scale (large noise: inconclusive)."""
    runs, seeds = [], []
    for k in range(n_seeds):
        s = 10 + k
        noise = lambda: p["noise"] * rng.standard_normal()
        # the rows added for issue 19 item 3 (cond, causal) draw from their own stream, so the
        # older rows keep the values (and the verdict branches) they had
        noise2 = lambda: p["noise"] * rng2.standard_normal()
        e0, ppl0 = 0.8 + 0.01 * rng.standard_normal(), 100.0 * (1 + 0.05 * rng.standard_normal())
        acc0 = p.get("acc0", 0.6)

        def add(sae, set_, cond, tier, alpha, emt, ratio, acc=acc0):
            runs.append(dict(seed=s, sae=sae, set=set_, condition=cond, tier=tier, alpha=alpha, emt=emt, ppl=ratio * ppl0,
                             acc=acc, acc_n=200))
        add("", "baseline", "none", "none", 0.0, e0, 1.0)
        add(N, "top", "ablate", "ablate", 0.0, e0 + p["ablate"][0] + noise(), 1 + p["ablate"][1] + noise(),
            acc0 + p["acc"] + p["acc_noise"] * rng.standard_normal())
        for meth, sae, set_, tier, pre in [("suppress", N, "top", "suppress", ""), ("steer", N, "top", "steer", ""),
                                           ("meandiff", "", "baseline", "meandiff", ""),
                                           ("nsingle", N, "single", "steer", ""), ("wsingle", W, "single", "steer", ""),
                                           ("wfamily", W, "family", "steer", "-family"),
                                           ("mat", M, "single", "steer", ""), ("cond", N, "top", "cond", ""),
                                           ("csteer", N, "causal", "steer", ""), ("ccond", N, "causal", "cond", "")]:
            de, dr = p[meth]
            new = meth in ("cond", "csteer", "ccond")
            nz = noise2 if new else noise
            for a in ALPHAS:
                emt = e0 + de * a + nz()
                acc = acc0 + (p["acc"] + p["acc_noise"] * (rng2 if new else rng).standard_normal()
                              if meth in ("suppress", "steer", "cond") else 0)
                if meth == "suppress":  # suppress@alpha continues from ablate
                    emt = runs[1]["emt"] + de * a + noise()
                add(sae, set_, f"{tier}{pre}@{a:g}", tier, a, emt, max(0.5, 1 + dr * a + nz()), acc)
        add("", "baseline", "banned", "banned", 0.0, e0 + p["banned"][0] + noise(), 1 + p["banned"][1] + noise())
        wc = p["children"][k % len(p["children"])]
        mg, ml = p["mat_groups"][k % len(p["mat_groups"])]
        seeds.append(dict(seed=s, wide_children=wc, mat_top=5, mat_group=mg, mat_later=ml))
    return runs, seeds


def write(d, runs, seeds):
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/study_runs.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(RUN_COLS)
        for r in runs:
            w.writerow([r["seed"], r["sae"], r["set"], r["condition"], r["tier"], repr(r["alpha"]), "1 2", 10, 5,
                        repr(r["emt"]), "", "", "", "", "", "", "", "", repr(r["ppl"]), "", "", repr(r["acc"]), "",
                        r["acc_n"]])
    with open(f"{d}/study_seeds.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(SEED_COLS)
        for s in seeds:
            w.writerow([s["seed"], "1 2 3", 1, s["wide_children"], 4, "4 5", s["mat_top"], s["mat_group"],
                        s["mat_later"], "7 9", 1.0])


CLEAR = dict(noise=0.002, acc=0.0, acc_noise=0.002, ablate=(-0.1, 0.05), suppress=(0.02, -0.02),
             steer=(-0.1, 0.15), meandiff=(-0.03, 0.05), banned=(-0.05, 0.01), nsingle=(-0.08, 0.1),
             wsingle=(-0.03, 0.1), wfamily=(-0.06, 0.1), mat=(-0.09, 0.1), cond=(-0.05, 0.05),
             csteer=(-0.12, 0.15), ccond=(-0.08, 0.05), children=[3, 2, 4],
             mat_groups=[(0, 0)])
SCEN = {
    # the paper's direction everywhere, tiny noise
    "clear": CLEAR,
    # the other direction everywhere
    "against": dict(CLEAR, ablate=(0.05, -0.05), suppress=(-0.02, 0.02), steer=(0.05, -0.05), acc=-0.3,
                    meandiff=(-0.2, 0.02), banned=(-0.3, 0.0), wsingle=(-0.12, 0.1), mat=(0.05, 0.1),
                    cond=(0.05, -0.05), csteer=(0.08, -0.05), ccond=(0.06, -0.05),
                    children=[1, 1, 1], mat_groups=[(1, 0)]),
    # noise swamps every effect
    "noisy": dict(CLEAR, noise=0.3, acc_noise=0.2, children=[0, 2, 5], mat_groups=[(0, 0), (1, 2), (0, 0), (0, 1)]),
    # a benchmark the model gets all right, and steering keeps it so: the Wilson band must still
    # hold 0 (rounding put its upper end at -1e-16 once)
    "perfect": dict(CLEAR, acc0=1.0, acc_noise=0.0),
}


def main():
    rng, rng2 = np.random.RandomState(19), np.random.RandomState(20)
    fails, seen = [], {}
    for name, p in SCEN.items():
        for n_seeds in (3, 4):
            runs, seeds = scenario(rng, n_seeds, p, rng2)
            d = f"{TMP}/study_findings/{name}-{n_seeds}"
            write(d, runs, seeds)
            r = subprocess.run([BIN, "study", "--recompute", d], capture_output=True, text=True)
            if r.returncode:
                fails.append(f"{name}: saetox failed: {r.stderr.strip()}")
                continue
            want = ref.findings(runs, seeds, (N, W, M))
            fails += [f"{name}-{n_seeds}: {m}" for m in ref.compare(f"{d}/findings.csv", want)]
            for fid, v in want.items():
                seen.setdefault(fid, set()).add(v["verdict"])
            if name == "perfect" and want["F3"]["verdict"] != "reproduced":
                fails.append(f"perfect: F3 {want['F3']}")
            # the schema check of the tables written
            sc = subprocess.run([os.environ["SCHEMA_CHECK"], f"{d}/findings.csv", f"{d}/study_runs.csv",
                                 f"{d}/study_seeds.csv"], capture_output=True, text=True)
            if sc.returncode:
                fails.append(f"{name}: schema: {sc.stderr.strip()}")
    # every verdict branch of every rule was taken
    three = {"reproduced", "not reproduced", "inconclusive"}
    for fid, vs in sorted(seen.items()):
        if fid.startswith("F6.") and not fid.startswith(("F6.vs-", "F6.causal-vs-")):
            if vs != {"-"}:
                fails.append(f"{fid}: descriptive, verdicts {vs}")
        elif vs != three:
            fails.append(f"{fid}: branches taken {sorted(vs)} (want all three)")

    # exact F6 interpolation by hand: ratios 1, 1.1, 1.5, 2 at EMT 0.8, 0.7, 0.3, 0.1 -> 0.55
    runs = [dict(seed=1, sae="", set="baseline", condition="none", tier="none", alpha=0.0, emt=0.8, ppl=100.0, acc=0.5,
                 acc_n=10)]
    for a, e, r in [(1, 0.7, 1.1), (2, 0.3, 1.5), (4, 0.1, 2.0)]:
        runs.append(dict(seed=1, sae=N, set="top", condition=f"steer@{a}", tier="steer", alpha=float(a), emt=e,
                         ppl=100 * r, acc=0.5, acc_n=10))
    runs.append(dict(seed=1, sae="", set="baseline", condition="meandiff@1", tier="meandiff", alpha=1.0, emt=0.6,
                     ppl=130.0, acc=0.5, acc_n=10))  # 1 -> 1.3: crosses 1.25 at u = 5/6: 0.8 - 5/6 0.2
    runs.append(dict(seed=1, sae="", set="baseline", condition="banned", tier="banned", alpha=0.0, emt=0.75,
                     ppl=110.0, acc=0.5, acc_n=10))  # feasible: 0.75
    runs.append(dict(seed=1, sae=W, set="family", condition="steer-family@1", tier="steer", alpha=1.0, emt=0.7,
                     ppl=100.0, acc=0.5, acc_n=10))  # names the wide SAE (no Matryoshka SAE here)
    seeds = [dict(seed=1, wide_children=2, mat_top=-1, mat_group=-1, mat_later=-1)]
    d = f"{TMP}/study_findings/hand"
    write(d, runs, seeds)
    r = subprocess.run([BIN, "study", "--recompute", d], capture_output=True, text=True)
    if r.returncode:
        fails.append(f"hand: {r.stderr.strip()}")
    else:
        got = {x["finding"]: x for x in ref.read_csv(f"{d}/findings.csv")}
        for fid, v in [("F6.steer", 0.55), ("F6.meandiff", 0.8 - 5 / 6 * 0.2), ("F6.banned", 0.75),
                       ("F6.vs-meandiff", 0.55 - (0.8 - 5 / 6 * 0.2)), ("F1.steer", np.polyfit([0, 1, 2, 4], [0.8, 0.7, 0.3, 0.1], 1)[0])]:
            g = float(got[fid]["mean"])
            if abs(g - v) > 1e-9:
                fails.append(f"hand {fid}: {g!r} vs {v!r}")
            if got[fid]["ci_lo"] != "" or (fid.startswith("F1") and got[fid]["verdict"] != "inconclusive"):
                fails.append(f"hand {fid}: one seed must give no interval and no verdict")
        if got["F5.whole"]["n"] != "0" or got["F5.whole"]["verdict"] != "inconclusive":
            fails.append("hand F5.whole: no Matryoshka SAE must give n 0, inconclusive")
    # a bad table is one clear error, nothing written
    bad = f"{TMP}/study_findings/bad"
    os.makedirs(bad, exist_ok=True)
    write(bad, runs, seeds)
    with open(f"{bad}/study_runs.csv", "a") as f:
        f.write("1,,baseline,none\n")
    for stale in ("findings.csv", "findings.md"):
        if os.path.exists(f"{bad}/{stale}"):
            os.remove(f"{bad}/{stale}")
    r = subprocess.run([BIN, "study", "--recompute", bad], capture_output=True, text=True)
    if r.returncode == 0 or len(r.stderr.strip().splitlines()) != 1 or os.path.exists(f"{bad}/findings.csv"):
        fails.append(f"bad table: rc {r.returncode}, stderr {r.stderr!r}")
    for m in fails:
        print("FAIL:", m)
    print(f"{len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
