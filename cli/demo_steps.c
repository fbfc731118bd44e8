/* demo_steps.c — the demo's own steps: sampling the model's text, merging per-SAE statistics,
 * choosing the latents to steer from the analysis CSVs, merging the two sweeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "export.h"
#include "models.h"
#include "tokenizer.h"

#define SAMPLE_BATCH 64

/* Write one generated sequence as documents: the model's EOS ends a document. */
static void write_docs(FILE *f, const sx_tokenizer *tok, const int32_t *ids, int n, int eos) {
    int start = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && ids[i] != eos) continue;
        if (i > start) {
            char *text = NULL;
            size_t len = 0;
            sx_err err;
            if (sx_tokenizer_decode(tok, ids + start, i - start, &text, &len, &err) == 0) {
                int any = 0;
                for (size_t k = 0; k < len; k++) {
                    if (text[k] == '\n' || text[k] == '\r' || text[k] == '\t') text[k] = ' ';
                    if (text[k] != ' ') any = 1;
                }
                if (any) fprintf(f, "%s\n", text);
            }
            free(text);
        }
        start = i + 1;
    }
}

static int load_model_facts(demo_ctx *c, sx_model **m, sx_tokenizer **tok, sx_err *err) {
    if (sx_model_load(c->model_dir, m, err)) return -1;
    if (sx_tokenizer_load(c->model_dir, tok, err)) {
        sx_model_free(*m);
        return -1;
    }
    const sx_model_config *cfg = sx_model_cfg(*m);
    c->d_model = cfg->d_model;
    c->n_layers = cfg->n_layers;
    c->ctx = cfg->n_ctx < 128 ? cfg->n_ctx : 128;
    /* the middle of the residual stream, as the paper's GPT-2 Small layer 6 of 12 */
    snprintf(c->hook, sizeof c->hook, "blocks.%d.hook_resid_pre", cfg->n_layers / 2);
    snprintf(c->ctx_s, sizeof c->ctx_s, "%d", c->ctx);
    int w1 = 8 * cfg->d_model, w2 = 32 * cfg->d_model;
    snprintf(c->widths_s, sizeof c->widths_s, "%d,%d", w1, w2);
    snprintf(c->name_narrow, sizeof c->name_narrow, "topk-%d", w1);
    snprintf(c->name_wide, sizeof c->name_wide, "topk-%d", w2);
    snprintf(c->sae_narrow, sizeof c->sae_narrow, "%s/%s", c->out, c->name_narrow);
    snprintf(c->sae_wide, sizeof c->sae_wide, "%s/%s", c->out, c->name_wide);
    return 0;
}

int demo_samples(demo_ctx *c, sx_err *err) {
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    if (load_model_facts(c, &m, &tok, err)) return -1;
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/data", c->out);
    snprintf(path, sizeof path, "%s/samples.txt", dir);
    if (sx_mkdir_p(dir, err)) goto fail;
    int eos = sx_model_cfg(m)->eos_id >= 0 ? sx_model_cfg(m)->eos_id : sx_tokenizer_eos(tok);
    int bos = sx_tokenizer_bos(tok) >= 0 ? sx_tokenizer_bos(tok) : eos;
    int new_tokens = c->ctx - 1;
    /* 10% headroom: document boundaries and separators cost a few positions */
    int64_t n_seqs = (c->sample_tokens * 11 / 10) / new_tokens + 1;
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) goto fail;
    int32_t bos_id = bos;
    const int32_t *prompts[SAMPLE_BATCH];
    int plens[SAMPLE_BATCH], olens[SAMPLE_BATCH];
    int32_t *outs[SAMPLE_BATCH];
    for (int i = 0; i < SAMPLE_BATCH; i++) {
        prompts[i] = &bos_id;
        plens[i] = 1;
    }
    sx_progress pg;
    sx_progress_start(&pg, "samples", (double)(n_seqs * new_tokens), "tok");
    for (int64_t done = 0; done < n_seqs; done += SAMPLE_BATCH) {
        int n = (int)(n_seqs - done < SAMPLE_BATCH ? n_seqs - done : SAMPLE_BATCH);
        sx_gen_opts go;
        memset(&go, 0, sizeof go);
        go.max_new_tokens = new_tokens;
        go.temperature = 1.0f;
        go.top_p = 1.0f;
        /* each batch its own seed: sequence i of a call samples from stream (seed, i) */
        go.seed = (uint64_t)c->seed * 1000003u + (uint64_t)done;
        if (sx_generate(m, prompts, plens, n, &go, outs, olens, err)) {
            sx_atomic_abort(&af);
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            write_docs(af.f, tok, outs[i], olens[i], eos);
            free(outs[i]);
        }
        sx_progress_update(&pg, (double)((done + n) * new_tokens));
    }
    sx_progress_finish(&pg);
    if (sx_atomic_commit(&af, err)) goto fail;
    fprintf(stderr, "      %lld sequences of %d tokens -> %s\n", (long long)n_seqs, new_tokens, path);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return 0;
fail:
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return -1;
}

/* Append src (a CSV) to dst; the header only when dst is new. */
static int append_csv(const char *src, FILE *dst, int with_header, sx_err *err) {
    char *data;
    size_t len;
    if (sx_read_file(src, (size_t)1 << 31, &data, &len, err)) return -1;
    const char *body = data;
    if (!with_header) {
        const char *nl = memchr(data, '\n', len);
        body = nl ? nl + 1 : data + len;
    }
    size_t n = len - (size_t)(body - data);
    int ok = fwrite(body, 1, n, dst) == n;
    free(data);
    return ok ? 0 : sx_fail(err, "%s: write failed while merging", src);
}

static int merge_files(const char *const *srcs, int n, const char *dst, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, dst, err)) return -1;
    for (int i = 0; i < n; i++)
        if (append_csv(srcs[i], af.f, i == 0, err)) {
            sx_atomic_abort(&af);
            return -1;
        }
    return sx_atomic_commit(&af, err);
}

int demo_stats(demo_ctx *c, const char *acts, const char *analysis, demo_run_fn run, sx_err *err) {
    const char *names[2] = {c->name_narrow, c->name_wide};
    const char *saes[2] = {c->sae_narrow, c->sae_wide};
    char dirs[2][4200], stats[2][8500], ctxs[2][8500];
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/stats-%s", c->out, names[i]);
        if (run(c, cmd_analyze, "analyze", "stats", "--sae", saes[i], "--cache", acts, "--tokenizer",
                c->model_dir, "--tokens", "60000", "--top-n", "8", "--name", names[i], "--out", dirs[i],
                "--threads", c->threads, "--quiet", NULL))
            return sx_fail(err, "analyze stats failed for %s", saes[i]);
        snprintf(stats[i], sizeof stats[i], "%s/latent_stats.csv", dirs[i]);
        snprintf(ctxs[i], sizeof ctxs[i], "%s/top_contexts.csv", dirs[i]);
    }
    char dst[4300];
    snprintf(dst, sizeof dst, "%s/latent_stats.csv", analysis);
    if (merge_files((const char *const[]){stats[0], stats[1]}, 2, dst, err)) return -1;
    snprintf(dst, sizeof dst, "%s/top_contexts.csv", analysis);
    return merge_files((const char *const[]){ctxs[0], ctxs[1]}, 2, dst, err);
}

typedef struct {
    int64_t latent, rank;
} ranked;

/* Toxic latents of one SAE in rank order (at most max). */
static int ranked_latents(const sx_csv_table *t, const char *sae, ranked *out, int max, sx_err *err) {
    int cs = sx_csv_col(t, "sae"), cl = sx_csv_col(t, "latent"), cr = sx_csv_col(t, "rank");
    int n = 0;
    for (int64_t r = 0; r < t->nrows; r++) {
        if (strcmp(sx_csv_cell(t, r, cs), sae) != 0) continue;
        ranked x;
        if (sx_csv_get_int(t, r, cl, &x.latent, 0, 0, err) || sx_csv_get_int(t, r, cr, &x.rank, 0, 0, err))
            return -1;
        int pos;
        if (n < max) {
            pos = n++;
        } else {
            if (out[max - 1].rank <= x.rank) continue; /* full, and x ranks below the last */
            pos = max - 1;
        }
        out[pos] = x;
        for (int k = pos; k > 0 && out[k].rank < out[k - 1].rank; k--) {
            ranked tmp = out[k];
            out[k] = out[k - 1];
            out[k - 1] = tmp;
        }
    }
    return n;
}

/* A wide latent and its decoder cosine to a narrow one. */
typedef struct {
    int64_t latent;
    double cos;
} child;

/* The children of narrow latent `parent`: the wide latents at decoder cosine >= the split
 * threshold (pairs.csv rows), most similar first (ties: lower index); at most max. */
static int children_of(const sx_csv_table *p, int64_t parent, child *out, int max, sx_err *err) {
    int cs = sx_csv_col(p, "small_latent"), cw = sx_csv_col(p, "wide_latent"), cc = sx_csv_col(p, "cosine");
    int n = 0;
    for (int64_t r = 0; r < p->nrows; r++) {
        int64_t small;
        child x;
        if (sx_csv_get_int(p, r, cs, &small, 0, 0, err)) return -1;
        if (small != parent) continue;
        if (sx_csv_get_int(p, r, cw, &x.latent, 0, 0, err) || sx_csv_get_num(p, r, cc, &x.cos, err)) return -1;
        if (n == max && !(x.cos > out[max - 1].cos)) continue; /* full; ties keep the lower index */
        int pos = n < max ? n++ : max - 1;
        out[pos] = x;
        for (int k = pos; k > 0 && (out[k].cos > out[k - 1].cos ||
                                    (out[k].cos == out[k - 1].cos && out[k].latent < out[k - 1].latent)); k--) {
            child tmp = out[k];
            out[k] = out[k - 1];
            out[k - 1] = tmp;
        }
    }
    return n;
}

static void join_ids(char *buf, size_t n, const int64_t *ids, int k) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < k && used + 24 < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? "," : "", (long long)ids[i]);
}

int demo_pick_latents(demo_ctx *c, const char *analysis, sx_err *err) {
    char p[4300];
    sx_csv_table tox, pairs;
    snprintf(p, sizeof p, "%s/toxic_latents.csv", analysis);
    if (sx_csv_read(p, &tox, err)) return -1;
    snprintf(p, sizeof p, "%s/pairs.csv", analysis);
    if (sx_csv_read(p, &pairs, err)) {
        sx_csv_free(&tox);
        return -1;
    }
    static const char *const pair_cols[] = {"small_latent", "wide_latent", "cosine"};
    int rc = -1;
    ranked top[10], wide_rank[64];
    child kids[DEMO_MAX_CHILDREN];
    if (sx_csv_require(&pairs, pair_cols, 3, err)) goto done;
    int n = ranked_latents(&tox, c->name_narrow, top, 10, err);
    int nw = n < 0 ? -1 : ranked_latents(&tox, c->name_wide, wide_rank, 64, err);
    if (n < 0 || nw < 0) goto done;
    if (n == 0 || nw == 0) {
        sx_fail(err, "%s/toxic_latents.csv: no toxic latents listed for %s or %s", analysis, c->name_narrow,
                c->name_wide);
        goto done;
    }
    int64_t ids[3];
    int n3 = n < 3 ? n : 3;
    for (int i = 0; i < n3; i++) ids[i] = top[i].latent;
    join_ids(c->narrow_latents, sizeof c->narrow_latents, ids, n3);
    /* Feature splitting as in the paper: a narrow toxic latent whose direction the wide SAE
     * shares out among several children (decoder cosine >= the split threshold).  Take the
     * best-ranked of the narrow SAE's top toxic latents with at least two children; failing
     * that, the top latent's single child; failing that, the wide SAE's own top latent. */
    int nk = 0;
    c->top_narrow = (int)top[0].latent;
    for (int i = 0; i < n; i++) {
        int k = children_of(&pairs, top[i].latent, kids, DEMO_MAX_CHILDREN, err);
        if (k < 0) goto done;
        if (k >= 2) {
            c->top_narrow = (int)top[i].latent, nk = k;
            break;
        }
    }
    if (nk == 0 && (nk = children_of(&pairs, top[0].latent, kids, DEMO_MAX_CHILDREN, err)) < 0) goto done;
    c->family_wide_n = nk;
    int64_t members[DEMO_MAX_CHILDREN];
    for (int k = 0; k < nk; k++) members[k] = kids[k].latent;
    if (nk == 0) members[0] = wide_rank[0].latent, nk = 1;
    /* the single latent: the child ranked best among the wide SAE's toxic latents (else the
     * most similar child) */
    int64_t single = members[0];
    for (int i = 0, found = 0; i < nw && !found; i++)
        for (int k = 0; k < nk; k++)
            if (members[k] == wide_rank[i].latent) {
                single = members[k];
                found = 1;
                break;
            }
    snprintf(c->wide_single, sizeof c->wide_single, "%lld", (long long)single);
    join_ids(c->wide_family, sizeof c->wide_family, members, nk);
    c->children_desc[0] = 0;
    for (int k = 0, used = 0; k < c->family_wide_n && used + 40 < (int)sizeof c->children_desc; k++)
        used += snprintf(c->children_desc + used, sizeof c->children_desc - used, "%s%lld (%.2f)", k ? ", " : "",
                         (long long)kids[k].latent, kids[k].cos);
    if (c->family_wide_n > 0)
        fprintf(stderr, "      narrow latents %s; narrow latent %d split into %d wide latent(s): %s; single %s\n",
                c->narrow_latents, c->top_narrow, c->family_wide_n, c->children_desc, c->wide_single);
    else
        fprintf(stderr, "      narrow latents %s; narrow latent %d has no wide child; wide top latent %s\n",
                c->narrow_latents, c->top_narrow, c->wide_single);
    rc = 0;
done:
    sx_csv_free(&tox);
    sx_csv_free(&pairs);
    return rc;
}

/* Copy every row of a sweep, renaming SAE-based conditions "<sae> <condition>". */
static int copy_sweep(const sx_csv_table *t, sx_csv_writer *w, const char *sae_name, int skip_none) {
    int ct = sx_csv_col(t, "tier"), cc = sx_csv_col(t, "condition");
    for (int64_t r = 0; r < t->nrows; r++) {
        const char *tier = sx_csv_cell(t, r, ct);
        int sae_tier = strcmp(tier, "ablate") == 0 || strcmp(tier, "suppress") == 0 || strcmp(tier, "steer") == 0;
        if (skip_none && !sae_tier) continue;
        for (int k = 0; k < t->ncols; k++) {
            if (k == cc && sae_tier) {
                char name[512];
                snprintf(name, sizeof name, "%s %s", sae_name, sx_csv_cell(t, r, k));
                sx_csv_str(w, name);
            } else {
                sx_csv_str(w, sx_csv_cell(t, r, k));
            }
        }
        sx_csv_row(w);
    }
    return 0;
}

int demo_merge_sweeps(demo_ctx *c, const char *narrow_dir, const char *wide_dir, sx_err *err) {
    char p1[4300], p2[4300], dst[4300];
    snprintf(p1, sizeof p1, "%s/steering_sweep.csv", narrow_dir);
    snprintf(p2, sizeof p2, "%s/steering_sweep.csv", wide_dir);
    snprintf(dst, sizeof dst, "%s/steering_sweep.csv", c->out);
    sx_csv_table a, b;
    if (sx_csv_read(p1, &a, err)) return -1;
    if (sx_csv_read(p2, &b, err)) {
        sx_csv_free(&a);
        return -1;
    }
    int rc = -1;
    if (a.ncols != b.ncols || sx_csv_col(&a, "condition") < 0 || sx_csv_col(&a, "tier") < 0) {
        sx_fail(err, "%s and %s: sweep columns differ or lack condition/tier", p1, p2);
        goto done;
    }
    sx_csv_writer w;
    if (sx_csv_open(&w, dst, (const char *const *)a.header, a.ncols, err)) goto done;
    copy_sweep(&a, &w, c->name_narrow, 0);
    copy_sweep(&b, &w, c->name_wide, 1);
    rc = sx_csv_close(&w, err);
done:
    sx_csv_free(&a);
    sx_csv_free(&b);
    return rc;
}
