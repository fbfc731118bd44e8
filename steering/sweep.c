/* sweep.c — the steering sweep behind `saetox evaluate`: a plan of conditions (tiers x
 * strengths, on the latents and optionally a family of latents) run on loaded objects, with
 * the results written as steering_sweep.csv + generations.jsonl (+ meandiff.safetensors). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_parts.h"
#include "steering.h"
#include "io.h"
#include "schema.h"
#include "sx_mpi.h"

static int takes_alpha(sx_tier t) {
    return t == SX_TIER_SUPPRESS || t == SX_TIER_STEER || t == SX_TIER_MEANDIFF || t == SX_TIER_COND;
}
static int is_sae_tier(sx_tier t) {
    return t == SX_TIER_ABLATE || t == SX_TIER_SUPPRESS || t == SX_TIER_STEER || t == SX_TIER_COND;
}

int sx_sweep_plan_build(const char *tiers, const double *alphas, int n_alphas, int with_family,
                        sx_sweep_plan *p, sx_err *err) {
    memset(p, 0, sizeof *p);
    if (!tiers) return sx_failc(err, SX_EINVAL, "no tiers given");
    char buf[1024];
    if (strlen(tiers) >= sizeof buf) return sx_failc(err, SX_EINVAL, "tier list too long");
    snprintf(buf, sizeof buf, "%s", tiers);
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
        sx_tier tr;
        if (sx_tier_parse(t, &tr))
            return sx_failc(err, SX_EINVAL, "unknown tier '%s' (none|ablate|suppress|steer|meandiff|banned|cond)", t);
        int sae_t = is_sae_tier(tr);
        p->need_sae |= sae_t;
        p->need_meandiff |= tr == SX_TIER_MEANDIFF;
        p->need_banned |= tr == SX_TIER_BANNED;
        int nal = takes_alpha(tr) ? n_alphas : 1;
        for (int fam = 0; fam < (sae_t && with_family ? 2 : 1); fam++)
            for (int a = 0; a < nal; a++) {
                if (p->n >= SX_SWEEP_MAX_CONDS)
                    return sx_failc(err, SX_EINVAL, "more than %d conditions", SX_SWEEP_MAX_CONDS);
                sx_sweep_cond *c = &p->cond[p->n++];
                c->tier = tr;
                c->family = fam;
                c->alpha = takes_alpha(tr) ? (float)alphas[a] : 0;
                if (nal > 1 || c->alpha != 0)
                    snprintf(c->name, sizeof c->name, "%s%s@%g", t, fam ? "-family" : "", c->alpha);
                else
                    snprintf(c->name, sizeof c->name, "%s%s", t, fam ? "-family" : "");
            }
    }
    return 0;
}

void sx_sweep_inputs_default(sx_sweep_inputs *in) {
    memset(in, 0, sizeof *in);
    in->scale_quantile = 0.99;
    sx_eval_defaults(&in->eval);
}

/* Texts for scales / mean difference: given, or the prompts filtered by their toxicity score
 * (want 1: >= 0.5, 0: < 0.5; unscored prompts count as toxic). */
static int texts_or_prompts(const sx_textlist *given, const sx_textlist *prompts, int want, sx_textlist *own,
                            const sx_textlist **out, sx_err *err) {
    if (given) {
        *out = given;
        return 0;
    }
    memset(own, 0, sizeof *own);
    *out = own;
    own->text = malloc(sizeof(char *) * (size_t)(prompts->n + 1));
    own->score = malloc(sizeof(double) * (size_t)(prompts->n + 1));
    if (!own->text || !own->score) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (int64_t i = 0; i < prompts->n; i++) {
        double s = prompts->score[i];
        if (isnan(s) ? want == 1 : (want == 1) == (s >= 0.5)) {
            own->text[own->n] = strdup(prompts->text[i]);
            own->score[own->n++] = s;
        }
    }
    if (own->n == 0)
        return sx_failc(err, SX_EINVAL, "no %s texts: give --%s (the prompts carry no usable toxicity scores)",
                       want ? "toxic" : "clean", want ? "toxic" : "clean");
    return 0;
}

static int sae_iv(const sx_sweep *sw, sx_intervention *iv, sx_tier tier, int family, const float *scales,
                  float alpha, sx_err *err) {
    const sx_sweep_inputs *in = &sw->in;
    return sx_intervention_sae(iv, tier, in->sae, sw->hook, sw->d_model, sw->n_layers,
                               family ? in->family : in->latents, family ? in->n_family : in->n_latents, scales,
                               alpha, err);
}

int sx_sweep_prepare(const sx_sweep_plan *plan, const sx_sweep_inputs *in, sx_sweep *sw, sx_err *err) {
    memset(sw, 0, sizeof *sw);
    sw->plan = plan;
    sw->in = *in;
    if (!in->model || !in->tok || !in->prompts) return sx_fail(err, "sweep: model, tokenizer and prompts are required");
    if (!in->scorer && !in->external_cmd) return sx_fail(err, "sweep: no toxicity scorer");
    const sx_model_config *mc = sx_model_cfg(in->model);
    sw->d_model = mc->d_model, sw->n_layers = mc->n_layers, sw->vocab = mc->vocab_size;
    sw->hook = in->hook;
    const char *sname = in->sae_name ? in->sae_name : "SAE";
    sx_textlist own_toxic = {0}, own_clean = {0};
    const sx_textlist *toxic = NULL, *clean = NULL;
    int rc = -1;
    if (plan->need_sae) {
        if (!in->sae || !in->latents || in->n_latents < 1) {
            sx_fail(err, "tiers ablate/suppress/steer need an SAE and latents");
            goto done;
        }
        if (!sw->hook) sw->hook = in->sae->hook_name[0] ? in->sae->hook_name : NULL;
        if (!sw->hook) {
            sx_failc(err, SX_EINVAL, "%s: the SAE names no hook; give --hook", sname);
            goto done;
        }
        sx_intervention probe;
        if (sae_iv(sw, &probe, SX_TIER_ABLATE, 0, NULL, 0, err) ||
            (in->family && (sx_intervention_free(&probe), sae_iv(sw, &probe, SX_TIER_ABLATE, 1, NULL, 0, err)))) {
            sx_fail_prefix(err, "%s", sname);
            goto done;
        }
        sx_intervention_free(&probe);
        sw->scales = malloc(sizeof(float) * (size_t)in->n_latents);
        sw->family_scales = malloc(sizeof(float) * (size_t)(in->n_family + 1));
        if (!sw->scales || !sw->family_scales) {
            sx_failc(err, SX_ENOMEM, "out of memory");
            goto done;
        }
        if (in->scales) {
            memcpy(sw->scales, in->scales, sizeof(float) * (size_t)in->n_latents);
            if (in->family) {
                if (!in->family_scales) {
                    sx_failc(err, SX_EINVAL, "sweep: scales given for the latents but not for the family");
                    goto done;
                }
                memcpy(sw->family_scales, in->family_scales, sizeof(float) * (size_t)in->n_family);
            }
        } else {
            if (texts_or_prompts(in->toxic, in->prompts, 1, &own_toxic, &toxic, err)) goto done;
            for (int f = 0; f < (in->family ? 2 : 1); f++) {
                sx_intervention iv;
                if (sae_iv(sw, &iv, SX_TIER_ABLATE, f, NULL, 0, err)) goto done;
                int r2 = sx_latent_scales(in->model, in->tok, &iv, toxic->text, toxic->n, in->scale_quantile,
                                          f ? sw->family_scales : sw->scales, err);
                sx_intervention_free(&iv);
                if (r2) goto done;
            }
        }
    }
    if (plan->need_meandiff) {
        if (!sw->hook) {
            sx_failc(err, SX_EINVAL, "meandiff needs --hook");
            goto done;
        }
        if (!toxic && texts_or_prompts(in->toxic, in->prompts, 1, &own_toxic, &toxic, err)) goto done;
        if (texts_or_prompts(in->clean, in->prompts, 0, &own_clean, &clean, err)) goto done;
        int d = sw->d_model;
        double *a = malloc(sizeof(double) * (size_t)d), *b = malloc(sizeof(double) * (size_t)d);
        sw->meandiff = malloc(sizeof(float) * (size_t)d);
        int r2 = !a || !b || !sw->meandiff ? sx_failc(err, SX_ENOMEM, "out of memory") : 0;
        r2 = r2 || sx_resid_mean(in->model, in->tok, sw->hook, toxic->text, toxic->n, a, NULL, err) ||
             sx_resid_mean(in->model, in->tok, sw->hook, clean->text, clean->n, b, NULL, err);
        for (int k = 0; !r2 && k < d; k++) sw->meandiff[k] = (float)(a[k] - b[k]);
        free(a), free(b);
        if (r2) goto done;
    }
    rc = 0;
done:
    sx_textlist_free(&own_toxic);
    sx_textlist_free(&own_clean);
    if (rc) sx_sweep_free(sw);
    return rc;
}

void sx_sweep_free(sx_sweep *sw) {
    free(sw->scales), free(sw->family_scales), free(sw->meandiff);
    sw->scales = sw->family_scales = sw->meandiff = NULL;
}

static void latents_str(const int *l, int n, char *buf, size_t sz) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o + 16 < sz; i++) o += (size_t)snprintf(buf + o, sz - o, "%s%d", i ? " " : "", l[i]);
}


/* The intervention of condition c (*have = 0 for the baseline: no intervention). */
static int cond_iv(const sx_sweep *sw, const sx_sweep_cond *c, sx_intervention *iv, int *have, sx_err *err) {
    const sx_sweep_inputs *in = &sw->in;
    memset(iv, 0, sizeof *iv);
    *have = 1;
    switch (c->tier) {
    case SX_TIER_NONE: *have = 0; return 0;
    case SX_TIER_ABLATE:
    case SX_TIER_SUPPRESS:
    case SX_TIER_STEER:
        return sae_iv(sw, iv, c->tier, c->family, c->family ? sw->family_scales : sw->scales, c->alpha, err);
    case SX_TIER_COND:
        if (sae_iv(sw, iv, c->tier, c->family, c->family ? sw->family_scales : sw->scales, c->alpha, err)) return -1;
        iv->cond_thr = (float)in->cond_threshold;
        return 0;
    case SX_TIER_MEANDIFF:
        return sx_intervention_meandiff(iv, sw->hook, sw->d_model, sw->n_layers, sw->meandiff, c->alpha, err);
    case SX_TIER_BANNED: return sx_intervention_banned(iv, in->ban_ids, in->n_ban, sw->vocab, err);
    }
    return 0;
}

/* Benchmark items [i0, i0 + n) under the condition's hooks (the banned tier changes decoding
 * only), in chunks of SX__MC_CHUNK items from global multiples of the chunk, each one
 * sx_mc_eval call: its accuracy is right / items exactly, so the counts come back exactly and
 * the chunks' sums do not depend on who ran which chunk. */
static int mc_count(const sx_sweep *sw, const sx_sweep_cond *c, sx_intervention *iv, int have_iv, int64_t i0,
                    int64_t n, int64_t *right, int64_t *right_n, sx_err *err) {
    const sx_sweep_inputs *in = &sw->in;
    sx_hook h;
    sx_gen_opts dummy = {0};
    int nh = have_iv && c->tier != SX_TIER_BANNED ? sx_intervention_attach(iv, &h, &dummy) : 0;
    for (int64_t a = i0; a < i0 + n;) {
        int64_t m = SX__MC_CHUNK - a % SX__MC_CHUNK;
        m = m < i0 + n - a ? m : i0 + n - a;
        double acc, acc_n;
        if (sx_mc_eval(in->model, in->tok, in->bench + a, m, nh ? &h : NULL, nh, &acc, &acc_n, err))
            return sx_fail_prefix(err, "benchmark items %lld-%lld (numbered from 1 within them)", (long long)a + 1,
                                  (long long)(a + m));
        *right += llround(acc * (double)m), *right_n += llround(acc_n * (double)m);
        a += m;
    }
    return 0;
}

static void row_init(const sx_sweep *sw, const sx_sweep_cond *c, sx_sweep_row *row) {
    const sx_sweep_inputs *in = &sw->in;
    memset(row, 0, sizeof *row);
    row->cond = c;
    row->acc = row->acc_norm = NAN;
    row->n_bench = in->bench ? in->n_bench : 0;
    if (is_sae_tier(c->tier))
        latents_str(c->family ? in->family : in->latents, c->family ? in->n_family : in->n_latents, row->latents,
                    sizeof row->latents);
}

static void row_bench(sx_sweep_row *row, int64_t right, int64_t right_n) {
    if (row->n_bench > 0)
        row->acc = (double)right / (double)row->n_bench, row->acc_norm = (double)right_n / (double)row->n_bench;
}

/* One condition in one process: the intervention, the generations (into gen), the benchmark. */
static int run_condition(sx_sweep *sw, const sx_sweep_cond *c, FILE *gen, sx_sweep_row *row, sx_err *err) {
    const sx_sweep_inputs *in = &sw->in;
    row_init(sw, c, row);
    sx_intervention iv;
    int have_iv;
    if (cond_iv(sw, c, &iv, &have_iv, err)) return -1;
    double t0 = sx_now();
    int64_t right = 0, right_n = 0;
    int r2 = sx_eval_condition(in->model, in->tok, in->prompts, have_iv ? &iv : NULL, &in->eval, in->scorer,
                               in->external_cmd, c->name, gen, &row->res, err);
    if (!r2 && in->bench) r2 = mc_count(sw, c, &iv, have_iv, 0, in->n_bench, &right, &right_n, err);
    row_bench(row, right, right_n);
    sx_intervention_free(&iv);
    row->seconds = sx_now() - t0;
    if (r2) return sx_fail_prefix(err, "condition %s", c->name);
    return 0;
}

/* One sweep number as the table always had it: 6 significant digits, empty when not finite. */
static void csv_num6(sx_csv_writer *w, double v) {
    if (isfinite(v)) sx_csv_num_g(w, v, 6);
    else sx_csv_empty(w);
}

/* One row of steering_sweep.csv. */
static void csv_row(sx_csv_writer *csv, const sx_sweep_cond *c, const sx_sweep_row *row) {
    const sx_eval_result *res = &row->res;
    sx_csv_str(csv, c->name);
    sx_csv_str(csv, sx_tier_name(c->tier));
    sx_csv_num_g(csv, c->alpha, 6);
    sx_csv_str(csv, row->latents);
    sx_csv_int(csv, res->n_prompts);
    sx_csv_int(csv, res->n_samples);
    double v[] = {res->emt, res->emt_lo, res->emt_hi, res->tox_prob, res->tox_prob_lo, res->tox_prob_hi,
                  res->mean_tox, res->mean_tox_lo, res->mean_tox_hi, res->ppl, res->ppl_lo, res->ppl_hi,
                  row->acc, row->acc_norm};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) csv_num6(csv, v[k]);
    sx_csv_int(csv, row->n_bench);
    sx_csv_row(csv);
}

/* Under mpirun (core/sx_mpi.h) the work is cut into (condition, chunk) units: the prompt
 * chunks of every condition (eval_parts.h: sx__eval_chunk prompts each) in plan order form
 * one list, the benchmark chunks (SX__MC_CHUNK items) a second; rank r takes the contiguous
 * stretch [r U / N, (r + 1) U / N) of each list, so a rank holds at most a few conditions,
 * each as one prompt range (evaluated batched, one scheduler call per chunk) and one item
 * range, and more ranks than conditions still all work.  A chunk's numbers depend on the chunk
 * alone, so the per-prompt results (SX__EVAL_NSTAT doubles each) summed over the ranks (each
 * entry is written by exactly one rank, the others add +0: exact) and the benchmark counts are
 * the one-process numbers; every rank then aggregates them as sx_eval_condition does (the
 * bootstrap over prompts in prompt order), rank 0 receives the generations piece by piece
 * (condition-major, rank-minor: the prompt order) and writes the files the one-process path
 * writes, byte for byte.  Every rank fails or succeeds together (sx_mpi_check). */
typedef struct span {
    int64_t lo, hi;
} span;

static span share(int64_t units, int rank, int n) {
    return (span){units * rank / n, units * (rank + 1) / n};
}

static int sweep_run_mpi(sx_sweep *sw, const char *out_dir, sx_sweep_row_fn on_row, void *user, sx_sweep_row *rows,
                         sx_err *err) {
    const sx_sweep_plan *plan = sw->plan;
    const sx_sweep_inputs *in = &sw->in;
    const int N = sx_mpi_size(), me = sx_mpi_rank(), n = plan->n > 0 ? plan->n : 0;
    const int64_t P = in->prompts->n, Q = sx__eval_chunk(&in->eval), G = (P + Q - 1) / Q;
    const int64_t B = in->bench ? in->n_bench : 0, H = (B + SX__MC_CHUNK - 1) / SX__MC_CHUNK;
    const span sp = share((int64_t)n * G, me, N), sb = share((int64_t)n * H, me, N);
    const size_t nn = (size_t)(n > 0 ? n : 1);
    double *stat = calloc(nn * (size_t)(P > 0 ? P : 1) * SX__EVAL_NSTAT, sizeof *stat);
    double *secs = calloc(nn, sizeof *secs);
    int64_t *cnt = calloc(nn * 2, sizeof *cnt), *len = calloc(nn * (size_t)N, sizeof *len);
    char **gtext = calloc(nn * (size_t)N, sizeof *gtext); /* [ci * N + r]: rank r's lines of ci */
    sx_sweep_row *all = calloc(nn, sizeof *all);
    int rc = stat && secs && cnt && len && gtext && all ? 0 : sx_failc(err, SX_ENOMEM, "out of memory");
    if (!rc) rc = sx__eval_check(in->model, &in->eval, P, err);
    if (!rc && me == 0) rc = sx_mkdir_p(out_dir, err);
    if (sx_mpi_check(rc, err)) goto done;
    for (int ci = 0; ci < n && !rc; ci++) {
        const sx_sweep_cond *c = &plan->cond[ci];
        /* this rank's prompts [a, b) and items [ia, ib) of condition ci */
        int64_t g0 = sp.lo > ci * G ? sp.lo : ci * G, g1 = sp.hi < (ci + 1) * G ? sp.hi : (ci + 1) * G;
        int64_t h0 = sb.lo > ci * H ? sb.lo : ci * H, h1 = sb.hi < (ci + 1) * H ? sb.hi : (ci + 1) * H;
        if (g0 >= g1 && h0 >= h1) continue;
        double t0 = sx_now();
        sx_intervention iv;
        int have_iv;
        if ((rc = cond_iv(sw, c, &iv, &have_iv, err))) break;
        if (g0 < g1) {
            int64_t a = (g0 - ci * G) * Q, b = (g1 - ci * G) * Q;
            b = b < P ? b : P;
            size_t gl = 0;
            FILE *g = open_memstream(&gtext[(size_t)ci * N + me], &gl);
            if (!g) rc = sx_failc(err, SX_ENOMEM, "no memory for the generations");
            if (!rc)
                rc = sx__eval_prompts(in->model, in->tok, in->prompts, a, b - a, have_iv ? &iv : NULL, &in->eval,
                                      in->scorer, in->external_cmd, c->name, g,
                                      stat + ((size_t)ci * P + a) * SX__EVAL_NSTAT, err);
            if (g && fclose(g) != 0 && !rc) rc = sx_failc(err, SX_ENOMEM, "generations lost");
            len[(size_t)ci * N + me] = (int64_t)gl;
        }
        if (!rc && h0 < h1) {
            int64_t ia = (h0 - ci * H) * SX__MC_CHUNK, ib = (h1 - ci * H) * SX__MC_CHUNK;
            ib = ib < B ? ib : B;
            rc = mc_count(sw, c, &iv, have_iv, ia, ib - ia, &cnt[2 * ci], &cnt[2 * ci + 1], err);
        }
        sx_intervention_free(&iv);
        secs[ci] = sx_now() - t0;
        if (rc) sx_fail_prefix(err, "condition %s", c->name);
    }
    if (sx_mpi_check(rc, err)) goto done;
    /* every rank: the per-prompt results, the counts, the sizes of the generation pieces */
    sx_mpi_allreduce_d(stat, (int64_t)n * P * SX__EVAL_NSTAT, SX_MPI_SUM);
    sx_mpi_allreduce_d(secs, n, SX_MPI_SUM);
    sx_mpi_allreduce_i64(cnt, 2 * (int64_t)n, SX_MPI_SUM);
    sx_mpi_allreduce_i64(len, (int64_t)n * N, SX_MPI_SUM);
    for (int ci = 0; ci < n && !rc; ci++) {
        row_init(sw, &plan->cond[ci], &all[ci]);
        rc = sx__eval_aggregate(stat + (size_t)ci * P * SX__EVAL_NSTAT, P, &in->eval, &all[ci].res, err);
        row_bench(&all[ci], cnt[2 * ci], cnt[2 * ci + 1]);
        all[ci].seconds = secs[ci]; /* summed over the ranks that worked on it */
    }
    /* rank 0 makes room for the pieces it receives (sizes known: it can fail before any transfer) */
    for (size_t i = 0; !rc && me == 0 && i < (size_t)n * N; i++)
        if (i % (size_t)N != 0 && len[i] > 0 && !(gtext[i] = malloc((size_t)len[i])))
            rc = sx_failc(err, SX_ENOMEM, "no memory for %lld bytes of generations", (long long)len[i]);
    if (sx_mpi_check(rc, err)) goto done;
    for (size_t i = 0; i < (size_t)n * N; i++) { /* in condition-major, rank-minor order on both sides */
        int r = (int)(i % (size_t)N);
        if (r == 0 || len[i] == 0) continue;
        if (me == r) sx_mpi_send(gtext[i], len[i], 0, 2);
        else if (me == 0) sx_mpi_recv(gtext[i], len[i], r, 2);
    }
    if (me == 0) { /* the same files, the same way as one process writes them */
        sx_csv_writer csv;
        sx_atomic_file gen = {0};
        char path[4200];
        if (sw->meandiff) {
            snprintf(path, sizeof path, "%s/meandiff.safetensors", out_dir);
            rc = sx_meandiff_save(path, sw->meandiff, sw->d_model, sw->hook, err);
        }
        snprintf(path, sizeof path, "%s/steering_sweep.csv", out_dir);
        int csv_open = !rc && !sx_csv_open_schema(&csv, path, &SX_SCHEMA_STEERING_SWEEP, err);
        if (!rc && !csv_open) rc = -1;
        snprintf(path, sizeof path, "%s/generations.jsonl", out_dir);
        int gen_open = !rc && !sx_atomic_open(&gen, path, err);
        if (!rc && !gen_open) rc = -1;
        for (int ci = 0; ci < n && !rc; ci++) {
            csv_row(&csv, &plan->cond[ci], &all[ci]);
            for (int r = 0; r < N; r++) {
                size_t i = (size_t)ci * N + r, l = (size_t)len[i];
                if (l && fwrite(gtext[i], 1, l, gen.f) != l) rc = -1;
            }
            if (on_row) on_row(user, &all[ci]);
        }
        if (!rc && ferror(gen.f)) rc = -1;
        if (rc && gen_open && !err->msg[0]) sx_failc(err, SX_EIO, "%s/generations.jsonl: write error", out_dir);
        if (rc) {
            if (csv_open) sx_csv_abort(&csv);
            if (gen_open) sx_atomic_abort(&gen);
        } else if (sx_csv_close(&csv, err)) {
            sx_atomic_abort(&gen);
            rc = -1;
        } else if (sx_atomic_commit(&gen, err)) {
            rc = -1;
        }
    }
    if (sx_mpi_check(rc, err)) goto done;
    if (rows)
        for (int ci = 0; ci < n; ci++) rows[ci] = all[ci];
done:
    if (gtext)
        for (size_t i = 0; i < (size_t)n * N; i++) free(gtext[i]);
    free(gtext), free(len), free(cnt), free(secs), free(stat), free(all);
    return rc ? -1 : (sx_mpi_failure_agreed() ? -1 : 0);
}

int sx_sweep_run(sx_sweep *sw, const char *out_dir, sx_sweep_row_fn on_row, void *user, sx_sweep_row *rows,
                 sx_err *err) {
    if (sx_mpi_size() > 1) return sweep_run_mpi(sw, out_dir, on_row, user, rows, err);
    const sx_sweep_plan *plan = sw->plan;
    sx_csv_writer csv;
    sx_atomic_file gen = {0};
    int csv_open = 0, gen_open = 0, ret = -1;
    char path[4200];
    if (sx_mkdir_p(out_dir, err)) return -1;
    if (sw->meandiff) { /* reusable by `saetox generate --meandiff-vector` */
        snprintf(path, sizeof path, "%s/meandiff.safetensors", out_dir);
        if (sx_meandiff_save(path, sw->meandiff, sw->d_model, sw->hook, err)) return -1;
    }
    snprintf(path, sizeof path, "%s/steering_sweep.csv", out_dir);
    if (sx_csv_open_schema(&csv, path, &SX_SCHEMA_STEERING_SWEEP, err)) goto fail;
    csv_open = 1;
    snprintf(path, sizeof path, "%s/generations.jsonl", out_dir);
    if (sx_atomic_open(&gen, path, err)) goto fail;
    gen_open = 1;
    for (int ci = 0; ci < plan->n; ci++) {
        const sx_sweep_cond *c = &plan->cond[ci];
        sx_sweep_row row;
        if (run_condition(sw, c, gen.f, &row, err)) goto fail;
        csv_row(&csv, c, &row);
        if (rows) rows[ci] = row;
        if (on_row) on_row(user, &row);
    }
    if (ferror(gen.f)) {
        sx_failc(err, SX_EIO, "%s/generations.jsonl: write error", out_dir);
        goto fail;
    }
    csv_open = 0;
    gen_open = 0;
    if (sx_csv_close(&csv, err)) {
        sx_atomic_abort(&gen);
        goto fail;
    }
    if (sx_atomic_commit(&gen, err)) goto fail;
    ret = 0;
fail:
    if (csv_open) sx_csv_abort(&csv);
    if (gen_open) sx_atomic_abort(&gen);
    return ret;
}
