"""ref_findings.py — an independent reference for the study's findings (analysis/findings.c):
numpy float64 and scipy.stats.t, written from the rules in README.md "The study", not from the
C code.  findings(runs, seeds, names) -> {id: dict(values, mean, lo, hi, verdict)}."""
import math

import numpy as np
from scipy import stats

BUDGET, LEVEL, MARGIN = 1.25, 0.95, 0.02


def ci(vals):
    v = np.array([x for x in vals if math.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return v, math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return v, m, math.nan, math.nan
    half = stats.t.ppf(0.5 + LEVEL / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v, m, m - half, m + half


def sign_verdict(n, lo, hi, want_neg):
    if n < 2 or not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if want_neg:
        return "reproduced" if hi < 0 else "not reproduced" if lo >= 0 else "inconclusive"
    return "reproduced" if lo > 0 else "not reproduced" if hi <= 0 else "inconclusive"


def row(runs, seed, sae, set_, tier, alpha=None):
    for r in runs:
        if r["seed"] == seed and r["sae"] == sae and r["set"] == set_ and r["tier"] == tier and (
                alpha is None or r["alpha"] == alpha):
            return r
    return None


def strength_rows(runs, seed, sae, set_, tier):
    rs = [r for r in runs if r["seed"] == seed and r["sae"] == sae and r["set"] == set_ and r["tier"] == tier]
    if tier not in ("ablate", "banned"):
        rs = [r for r in rs if r["alpha"] > 0]
    return sorted(rs, key=lambda r: r["alpha"])


def points(runs, seed, sae, set_, tier, with_none):
    """(alpha, emt, ppl ratio) along the path: the strength-0 start then the strengths."""
    none = row(runs, seed, "", "baseline", "none")
    rs = strength_rows(runs, seed, sae, set_, tier)
    if not rs:
        return []
    start = []
    if with_none or tier in ("steer", "meandiff", "ablate", "banned"):
        start.append(none)
    if tier == "suppress":
        ab = row(runs, seed, sae, set_, "ablate")
        if ab is None:
            return []
        start.append(ab)
    out = [(0.0, r["emt"], r["ppl"] / none["ppl"]) for r in start]
    out += [(r["alpha"], r["emt"], r["ppl"] / none["ppl"]) for r in rs]
    return out


def matched(pts, budget=BUDGET):
    """Lowest EMT on the piecewise-linear path where the ratio <= budget: each segment's
    feasible part is an interval of its parameter u in [0, 1]; EMT is linear in u, so its
    minimum there is at an end of that interval."""
    if not pts:
        return math.nan
    best = math.inf
    if len(pts) == 1:
        return pts[0][1] if pts[0][2] <= budget else math.nan
    for (a0, e0, r0), (a1, e1, r1) in zip(pts[:-1], pts[1:]):
        if r1 == r0:
            us = [0.0, 1.0] if r0 <= budget else []
        else:
            ustar = (budget - r0) / (r1 - r0)
            if r1 > r0:
                lo_u, hi_u = 0.0, min(1.0, ustar)
            else:
                lo_u, hi_u = max(0.0, ustar), 1.0
            us = [lo_u, hi_u] if lo_u <= hi_u else []
        for u in us:
            best = min(best, e0 + u * (e1 - e0))
    return best if math.isfinite(best) else math.nan


def findings(runs, seeds, names):
    N, W, M = names
    F = {}

    def put(fid, vals, verdict_fn):
        v, m, lo, hi = ci(vals)
        F[fid] = dict(values=list(v), mean=m, lo=lo, hi=hi, verdict=verdict_fn(len(v), lo, hi))

    S = [s["seed"] for s in seeds]
    for fi in (1, 2):
        for tier in ("ablate", "suppress", "steer"):
            vals = []
            for s in S:
                p = points(runs, s, N, "top", tier, False)
                if len(p) < 2:
                    vals.append(math.nan)
                    continue
                x = np.array([q[0] for q in p])
                y = np.array([q[1] if fi == 1 else q[2] for q in p])
                vals.append(y[1] - y[0] if tier == "ablate" else float(np.polyfit(x, y, 1)[0]))
            put(f"F{fi}.{tier}", vals, lambda n, lo, hi, fi=fi: sign_verdict(n, lo, hi, fi == 1))
    # F3
    conds = sorted({r["condition"] for r in runs if r["sae"] == N and r["set"] == "top"})
    means = {}
    for c in conds:
        e = [r["emt"] for r in runs if r["sae"] == N and r["set"] == "top" and r["condition"] == c]
        means[c] = np.mean(e)
    best = min(means, key=lambda c: means[c])
    vals, acc0, items = [], [], []
    for s in S:
        none = row(runs, s, "", "baseline", "none")
        y = [r for r in runs if r["seed"] == s and r["sae"] == N and r["set"] == "top" and r["condition"] == best][0]
        vals.append(y["acc"] - none["acc"])
        acc0.append(none["acc"])
        items.append(none["acc_n"])
    p, n_items, z = float(np.mean(acc0)), float(np.mean(items)), stats.norm.ppf(0.975)
    mid = (p + z * z / (2 * n_items)) / (1 + z * z / n_items)
    half = z / (1 + z * z / n_items) * math.sqrt(p * (1 - p) / n_items + z * z / (4 * n_items ** 2))
    bl, bh = min(0.0, mid - half - p), max(0.0, mid + half - p)  # the interval contains p

    def f3(n, lo, hi):
        if n < 2 or not math.isfinite(lo):
            return "inconclusive"
        if lo >= bl and hi <= bh:
            return "reproduced"
        if hi < bl or lo > bh:
            return "not reproduced"
        return "inconclusive"
    put("F3", vals, f3)
    F["F3"]["condition"] = best

    def thr(above, t):
        def v(n, lo, hi):
            if n < 2 or not math.isfinite(lo):
                return "inconclusive"
            if above:
                return "reproduced" if lo > t else "not reproduced" if hi <= t else "inconclusive"
            return "reproduced" if hi < t else "not reproduced" if lo > t else "inconclusive"
        return v

    put("F4.split", [float(s["wide_children"]) for s in seeds], thr(True, 1))

    def m_(s, sae, set_, tier):
        return matched(points(runs, s, sae, set_, tier, True))
    put("F4.steer", [m_(s, W, "single", "steer") - m_(s, N, "single", "steer") for s in S],
        lambda n, lo, hi: sign_verdict(n, lo, hi, False))
    put("F5.whole", [1.0 if (s["mat_group"] == 0 and s["mat_later"] == 0) else 0.0 for s in seeds if s["mat_top"] >= 0],
        thr(True, 0.5))
    put("F5.steer", [m_(s, M, "single", "steer") - m_(s, N, "single", "steer") for s in S], thr(False, MARGIN))
    desc = lambda n, lo, hi: "-"
    put("F6.none", [row(runs, s, "", "baseline", "none")["emt"] for s in S], desc)
    for fid, sae, set_, tier in [("F6.ablate", N, "top", "ablate"), ("F6.suppress", N, "top", "suppress"),
                                 ("F6.steer", N, "top", "steer"), ("F6.meandiff", "", "baseline", "meandiff"),
                                 ("F6.banned", "", "baseline", "banned"), ("F6.narrow-single", N, "single", "steer"),
                                 ("F6.wide-single", W, "single", "steer"), ("F6.wide-family", W, "family", "steer"),
                                 ("F6.matryoshka", M, "single", "steer"), ("F6.cond", N, "top", "cond"),
                                 ("F6.causal-steer", N, "causal", "steer"), ("F6.causal-cond", N, "causal", "cond")]:
        put(fid, [m_(s, sae, set_, tier) for s in S], desc)
    for b in ("meandiff", "banned"):
        put(f"F6.vs-{b}", [m_(s, N, "top", "steer") - m_(s, "", "baseline", b) for s in S],
            lambda n, lo, hi: sign_verdict(n, lo, hi, True))
    put("F6.causal-vs-act", [m_(s, N, "causal", "steer") - m_(s, N, "top", "steer") for s in S],
        lambda n, lo, hi: sign_verdict(n, lo, hi, True))
    for b in ("meandiff", "banned"):
        put(f"F6.causal-vs-{b}", [m_(s, N, "causal", "steer") - m_(s, "", "baseline", b) for s in S],
            lambda n, lo, hi: sign_verdict(n, lo, hi, True))
    return F


def read_csv(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_runs(path):
    out = []
    for r in read_csv(path):
        num = lambda k: float(r[k]) if r[k] != "" else math.nan
        out.append(dict(seed=int(r["seed"]), sae=r["sae"], set=r["set"], condition=r["condition"], tier=r["tier"],
                        alpha=num("alpha"), emt=num("emt"), ppl=num("ppl"), acc=num("acc"),
                        acc_n=int(r["acc_n"]) if r["acc_n"] else 0))
    return out


def load_seeds(path):
    return [dict(seed=int(r["seed"]), wide_children=int(r["wide_children"]), mat_top=int(r["mat_top"]),
                 mat_group=int(r["mat_group"]), mat_later=int(r["mat_later"])) for r in read_csv(path)]


def compare(findings_csv, ref, tol=1e-8):
    """Differences between findings.csv and the reference (a list of messages)."""
    bad = []
    got = {r["finding"]: r for r in read_csv(findings_csv)}
    for fid, want in ref.items():
        if fid not in got:
            bad.append(f"{fid}: missing")
            continue
        g = got[fid]
        if int(g["n"]) != len(want["values"]):
            bad.append(f"{fid}: n {g['n']} vs {len(want['values'])}")
        for k, col in (("mean", "mean"), ("lo", "ci_lo"), ("hi", "ci_hi")):
            a = float(g[col]) if g[col] != "" else math.nan
            b = want[k]
            if math.isnan(a) != math.isnan(b) or (not math.isnan(a) and abs(a - b) > tol * max(1.0, abs(b))):
                bad.append(f"{fid}: {col} {a!r} vs {b!r}")
        vals = [float(x.split(":")[1]) for x in g["values"].split()]
        if len(vals) != len(want["values"]) or any(abs(a - b) > 1e-5 * max(1.0, abs(b))
                                                   for a, b in zip(vals, want["values"])):
            bad.append(f"{fid}: values {g['values']!r} vs {list(want['values'])!r}")
        if g["verdict"] != want["verdict"]:
            bad.append(f"{fid}: verdict {g['verdict']!r} vs {want['verdict']!r}")
    extra = set(got) - set(ref)
    if extra:
        bad.append(f"findings the reference does not know: {sorted(extra)}")
    return bad
