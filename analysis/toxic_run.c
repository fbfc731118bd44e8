/* toxic_run.c — `analyze toxic`: per-latent toxic-vs-clean effects under a position policy,
 * ranking, logit lens of the top decoder directions, family spread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"
#include "datasets.h"
#include "schema.h"

int sx_policy_parse(const char *s, sx_policy *out) {
    if (!strcmp(s, "token")) *out = SX_POLICY_TOKEN;
    else if (!strcmp(s, "max")) *out = SX_POLICY_MAX;
    else if (!strcmp(s, "last")) *out = SX_POLICY_LAST;
    else return -1;
    return 0;
}

void sx_toxic_run_opts_default(sx_toxic_run_opts *o) {
    memset(o, 0, sizeof *o);
    o->policy = SX_POLICY_MAX;
    o->rank_by = SX_RANK_AUROC;
    o->top = 50, o->lens_k = 10, o->context_size = 128, o->batch = 8;
    o->max_docs = 2000, o->skip_bad = 1;
}

typedef struct tox_ctx {
    int n_saes, policy, cls, batch;
    const sx_sae *const *saes;
    sx_effect_acc **acc;
    float **doc_buf;   /* [n_saes][batch * d_sae]: per-document max / last row */
    int **doc_rows;    /* [n_saes][batch]: rows seen per document */
    const int *lens;
} tox_ctx;

static int tox_rows(void *user, int w, const float *acts, int n, const int *seq,
                    const int *pos, const int32_t *tok, sx_err *err) {
    (void)tok;
    tox_ctx *t = user;
    if (t->policy == SX_POLICY_TOKEN) return sx_effect_acc_add(t->acc[w], t->cls, acts, n, err);
    const int D = t->saes[w]->d_sae;
    for (int r = 0; r < n; r++) {
        int s = seq[r];
        float *dst = t->doc_buf[w] + (size_t)s * D;
        const float *src = acts + (size_t)r * D;
        if (t->policy == SX_POLICY_LAST) {
            if (pos[r] != t->lens[s] - 1) continue;
            memcpy(dst, src, (size_t)D * sizeof *dst);
        } else if (t->doc_rows[w][s] == 0) {
            memcpy(dst, src, (size_t)D * sizeof *dst);
        } else {
            for (int j = 0; j < D; j++) dst[j] = src[j] > dst[j] ? src[j] : dst[j];
        }
        t->doc_rows[w][s]++;
    }
    return 0;
}

/* After a batch: add one sample per document that had rows (max / last policies). */
static int flush_docs(tox_ctx *t, int n_seqs, sx_err *err) {
    if (t->policy == SX_POLICY_TOKEN) return 0;
    for (int w = 0; w < t->n_saes; w++) {
        const int D = t->saes[w]->d_sae;
        int k = 0;
        for (int s = 0; s < n_seqs; s++) {
            if (!t->doc_rows[w][s]) continue;
            if (k != s)
                memmove(t->doc_buf[w] + (size_t)k * D, t->doc_buf[w] + (size_t)s * D,
                        (size_t)D * sizeof(float));
            k++;
        }
        if (k && sx_effect_acc_add(t->acc[w], t->cls, t->doc_buf[w], k, err)) return -1;
        memset(t->doc_rows[w], 0, (size_t)t->batch * sizeof(int));
    }
    return 0;
}

/* Stream one class's documents through the model. */
static int run_class(const sx_toxic_run_opts *o, const char *spec, int cls, sx_ana_enc *enc,
                     const sx_tokenizer *tok, tox_ctx *t, int64_t *n_docs, sx_err *err) {
    sx_source_opts so = {.skip_bad = o->skip_bad, .html_unescape = o->html_unescape,
                         .label_rule = o->label_rule, .want = o->label_rule ? (cls ? 1 : 2) : 0};
    sx_text_source *src = NULL;
    if (sx_source_open(spec, &so, &src, err)) return -1;
    int C = o->context_size, B = o->batch, rc = 0;
    int32_t *toks = malloc((size_t)B * C * sizeof *toks);
    int *lens = malloc((size_t)B * sizeof *lens);
    if (!toks || !lens) {
        free(toks), free(lens);
        sx_source_close(src);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", spec);
    }
    t->cls = cls, t->lens = lens;
    *n_docs = 0;
    sx_progress pr;
    sx_progress_start(&pr, cls ? "toxic docs" : "clean docs", (double)o->max_docs, "docs");
    int nb = 0, ntok = 0, done = 0;
    while (!done) {
        sx_doc doc;
        int got = 0;
        if (o->max_docs <= 0 || *n_docs < o->max_docs) {
            got = sx_source_next(src, &doc, err);
            if (got < 0) { rc = -1; break; }
        }
        if (got) {
            int32_t *ids = NULL;
            int n = 0;
            if (sx_tokenizer_encode(tok, doc.text, doc.len, 1, &ids, &n, err)) {
                rc = sx_fail_prefix(err, "%s", doc.where ? doc.where : spec);
                break;
            }
            if (n > C) n = C; /* keep the first C tokens */
            int bos = sx_tokenizer_bos(tok);
            int real = n - (n > 0 && ids[0] == bos && sx_tokenizer_adds_bos(tok));
            if (real > 0) {
                memcpy(toks + ntok, ids, (size_t)n * sizeof *ids);
                lens[nb++] = n, ntok += n;
                (*n_docs)++;
            }
            free(ids);
        } else {
            done = 1;
        }
        if (nb == B || (done && nb)) {
            if (sx_ana_forward_encode(enc, toks, lens, nb, err) || flush_docs(t, nb, err)) {
                rc = -1;
                break;
            }
            nb = 0, ntok = 0;
            sx_progress_update(&pr, (double)*n_docs);
        }
    }
    sx_progress_finish(&pr);
    free(toks), free(lens);
    sx_source_close(src);
    return rc;
}

static void effect_row(sx_csv_writer *w, const sx_effect *e) {
    sx_csv_numf(w, e->auroc, 6);
    sx_csv_numf(w, e->cohens_d, 6);
    sx_csv_num_g(w, e->mean_toxic, 6);
    sx_csv_num_g(w, e->mean_clean, 6);
    sx_csv_num_g(w, e->mean_diff, 6);
    sx_csv_numf(w, e->fire_toxic, 6);
    sx_csv_numf(w, e->fire_clean, 6);
    sx_csv_numf(w, e->log_odds, 6);
}

static int write_effects(const char *path, const char *const *labels, const sx_effect *const *eff,
                         const sx_sae *const *saes, int n_saes, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_LATENT_EFFECTS, err)) return -1;
    for (int s = 0; s < n_saes; s++)
        for (int j = 0; j < saes[s]->d_sae; j++) {
            const sx_effect *e = &eff[s][j];
            sx_csv_str(&w, labels[s]);
            sx_csv_int(&w, j);
            effect_row(&w, e);
            sx_csv_num_g(&w, e->q50_toxic, 6);
            sx_csv_num_g(&w, e->q90_toxic, 6);
            sx_csv_num_g(&w, e->q99_toxic, 6);
            sx_csv_num_g(&w, e->max_toxic, 6);
            sx_csv_row(&w);
        }
    return sx_csv_close(&w, err);
}

typedef struct fam_info {
    int32_t *fam, *size; /* [d_sae] */
} fam_info;

/* Tokens as display text (sx_tokenizer_token_display: a leading space is a visible mark,
 * partial UTF-8 bytes are \xNN, <|endoftext|> is one token), space-separated; a space left
 * inside a token becomes \x20 so the list splits back on spaces. */
static void token_list(sx_csv_writer *w, const sx_tokenizer *tok, const int32_t *ids, int k) {
    char cell[512];
    size_t cap = (size_t)k * 1100 + 1, len = 0;
    char *s = malloc(cap);
    if (!s) {
        sx_csv_empty(w);
        return;
    }
    s[0] = 0;
    for (int i = 0; i < k; i++) {
        if (i) s[len++] = ' ';
        if (sx_tokenizer_token_display(tok, ids[i], cell, sizeof cell) < 0)
            snprintf(cell, sizeof cell, "<%d>", ids[i]);
        for (const char *p = cell; *p; p++) {
            if (*p == ' ') memcpy(s + len, "\\x20", 4), len += 4;
            else s[len++] = *p;
        }
        s[len] = 0;
    }
    sx_csv_str(w, s);
    free(s);
}

static void id_list(sx_csv_writer *w, const int32_t *ids, int k) {
    char s[16 * 64];
    size_t len = 0;
    s[0] = 0;
    for (int i = 0; i < k && len + 16 < sizeof s; i++)
        len += (size_t)snprintf(s + len, sizeof s - len, "%s%d", i ? " " : "", ids[i]);
    sx_csv_str(w, s);
}

#define LOGIT_HIST_BINS 40
#define LOGIT_TABLE_K 10
/* logit_effects.csv (top and bottom LOGIT_TABLE_K logits with values) and logit_hist.csv
 * (LOGIT_HIST_BINS equal bins over [min, max] of the whole vocabulary's logits) of one
 * latent, from its full logit-lens row L[V]. */
static void logit_rows(sx_csv_writer *fx, sx_csv_writer *hw, const char *label, int j,
                       const float *L, int V, const sx_tokenizer *tok) {
    int32_t top[LOGIT_TABLE_K], bot[LOGIT_TABLE_K];
    int nt = 0, nb = 0, K = V < LOGIT_TABLE_K ? V : LOGIT_TABLE_K;
    float lo = L[0], hi = L[0];
    for (int t = 0; t < V; t++) {
        if (L[t] < lo) lo = L[t];
        if (L[t] > hi) hi = L[t];
        /* insertion into the sorted best-K lists (K = 10: cheap next to the V d matvec) */
        int i = nt < K ? nt++ : K;
        while (i > 0 && L[t] > L[top[i - 1]]) { if (i < K) top[i] = top[i - 1]; i--; }
        if (i < K) top[i] = t;
        i = nb < K ? nb++ : K;
        while (i > 0 && L[t] < L[bot[i - 1]]) { if (i < K) bot[i] = bot[i - 1]; i--; }
        if (i < K) bot[i] = t;
    }
    char cell[512];
    for (int s = 0; s < 2; s++)
        for (int r = 0; r < K; r++) {
            int id = s ? bot[r] : top[r];
            if (sx_tokenizer_token_display(tok, id, cell, sizeof cell) < 0) snprintf(cell, sizeof cell, "<%d>", id);
            sx_csv_str(fx, label);
            sx_csv_int(fx, j);
            sx_csv_str(fx, s ? "neg" : "pos");
            sx_csv_int(fx, r + 1);
            sx_csv_int(fx, id);
            sx_csv_str(fx, cell);
            sx_csv_num_g(fx, L[id], 6);
            sx_csv_row(fx);
        }
    int64_t cnt[LOGIT_HIST_BINS] = {0};
    double wdt = hi > lo ? ((double)hi - lo) / LOGIT_HIST_BINS : 1.0;
    for (int t = 0; t < V; t++) {
        int b = (int)(((double)L[t] - lo) / wdt);
        cnt[b < 0 ? 0 : b >= LOGIT_HIST_BINS ? LOGIT_HIST_BINS - 1 : b]++;
    }
    for (int b = 0; b < LOGIT_HIST_BINS; b++) {
        sx_csv_str(hw, label);
        sx_csv_int(hw, j);
        sx_csv_int(hw, b);
        sx_csv_num_g(hw, lo + b * wdt, 6);
        sx_csv_num_g(hw, b == LOGIT_HIST_BINS - 1 ? (double)hi : lo + (b + 1) * wdt, 6);
        sx_csv_int(hw, cnt[b]);
        sx_csv_row(hw);
    }
}

static int write_top(const sx_toxic_run_opts *o, const char *path, const char *const *labels,
                     const sx_effect *const *eff, const sx_sae *const *saes, int32_t *const *order,
                     const fam_info *fi, sx_model *m, const sx_tokenizer *tok, sx_csv_writer *fx,
                     sx_csv_writer *hw, sx_err *err) {
    sx_csv_writer cw;
    if (sx_csv_open_schema(&cw, path, &SX_SCHEMA_TOXIC_LATENTS, err)) return -1;
    int rc = 0;
    for (int w = 0; w < o->n_saes && !rc; w++) {
        const sx_sae *S = saes[w];
        int top = o->top < S->d_sae ? o->top : S->d_sae, K = o->lens_k, d = S->d_in;
        float *dirs = malloc((size_t)top * d * sizeof *dirs);
        int32_t *pro = malloc((size_t)top * K * sizeof *pro), *sup = malloc((size_t)top * K * sizeof *sup);
        if (!dirs || !pro || !sup) {
            free(dirs), free(pro), free(sup);
            rc = sx_failc(err, SX_ENOMEM, "out of memory");
            break;
        }
        for (int r = 0; r < top; r++)
            memcpy(dirs + (size_t)r * d, S->W_dec + (size_t)order[w][r] * d, (size_t)d * sizeof *dirs);
        if (K > 0 && sx_logit_lens(m, dirs, top, K, pro, sup, err)) rc = -1;
        for (int r = 0; r < top && !rc; r++) {
            int j = order[w][r];
            const sx_effect *e = &eff[w][j];
            sx_csv_str(&cw, labels[w]);
            sx_csv_int(&cw, j);
            sx_csv_int(&cw, r + 1);
            sx_csv_num_g(&cw, sx_effect_score(e, o->rank_by), 6);
            effect_row(&cw, e);
            if (fi[w].fam && fi[w].fam[j] >= 0) {
                sx_csv_int(&cw, fi[w].fam[j]);
                sx_csv_int(&cw, fi[w].size[j]);
            } else if (fi[w].fam) {
                sx_csv_empty(&cw);
                sx_csv_int(&cw, 1);
            } else {
                sx_csv_empty(&cw);
                sx_csv_empty(&cw);
            }
            if (K > 0) token_list(&cw, tok, pro + (size_t)r * K, K);
            else sx_csv_empty(&cw);
            if (K > 0) token_list(&cw, tok, sup + (size_t)r * K, K);
            else sx_csv_empty(&cw);
            if (K > 0) id_list(&cw, pro + (size_t)r * K, K), id_list(&cw, sup + (size_t)r * K, K);
            else sx_csv_empty(&cw), sx_csv_empty(&cw);
            sx_csv_row(&cw);
        }
        /* The whole vocabulary's logits for the report's histogram and top/bottom table, in
         * blocks of latents so at most 16 x V floats are held (Gemma: 16 MB). */
        const int V = sx_model_cfg(m)->vocab_size;
        float *L = rc ? NULL : malloc((size_t)16 * V * sizeof *L);
        if (!rc && !L) rc = sx_failc(err, SX_ENOMEM, "out of memory for the logit histogram");
        for (int r0 = 0; r0 < top && !rc; r0 += 16) {
            int nb = top - r0 < 16 ? top - r0 : 16;
            if (sx_logit_lens_full(m, dirs + (size_t)r0 * d, nb, L, err)) { rc = -1; break; }
            for (int r = 0; r < nb; r++) logit_rows(fx, hw, labels[w], order[w][r0 + r], L + (size_t)r * V, V, tok);
        }
        free(L);
        free(dirs), free(pro), free(sup);
    }
    if (rc) {
        sx_csv_abort(&cw);
        return -1;
    }
    return sx_csv_close(&cw, err);
}

/* For every family holding a top latent: each member of each analysed SAE, its effects and
 * its share of the family's positive mean difference within that SAE. */
static int write_family_effects(const sx_toxic_run_opts *o, const char *path,
                                const char *const *labels, const sx_effect *const *eff,
                                const sx_sae *const *saes, int32_t *const *order,
                                const fam_info *fi, sx_err *err) {
    int maxfam = -1;
    for (int w = 0; w < o->n_saes; w++)
        for (int j = 0; j < saes[w]->d_sae; j++) if (fi[w].fam[j] > maxfam) maxfam = fi[w].fam[j];
    size_t nfam = maxfam >= 0 ? (size_t)maxfam + 1 : 1;
    char *want = calloc(nfam, 1);
    size_t nsae = o->n_saes > 0 && o->n_saes <= 16 ? (size_t)o->n_saes : 16;
    double *possum = calloc(nfam * nsae, sizeof *possum);
    if (!want || !possum) {
        free(want), free(possum);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    for (int w = 0; w < o->n_saes; w++) {
        int top = o->top < saes[w]->d_sae ? o->top : saes[w]->d_sae;
        for (int r = 0; r < top; r++) if (fi[w].fam[order[w][r]] >= 0) want[fi[w].fam[order[w][r]]] = 1;
        for (int j = 0; j < saes[w]->d_sae; j++)
            if (fi[w].fam[j] >= 0 && eff[w][j].mean_diff > 0)
                possum[(size_t)fi[w].fam[j] * o->n_saes + w] += eff[w][j].mean_diff;
    }
    sx_csv_writer cw;
    if (sx_csv_open_schema(&cw, path, &SX_SCHEMA_FAMILY_EFFECTS, err)) {
        free(want), free(possum);
        return -1;
    }
    for (int fid = 0; fid <= maxfam; fid++) {
        if (!want[fid]) continue;
        for (int w = 0; w < o->n_saes; w++)
            for (int j = 0; j < saes[w]->d_sae; j++) {
                if (fi[w].fam[j] != fid) continue;
                const sx_effect *e = &eff[w][j];
                double tot = possum[(size_t)fid * o->n_saes + w];
                sx_csv_int(&cw, fid);
                sx_csv_str(&cw, labels[w]);
                sx_csv_int(&cw, j);
                sx_csv_numf(&cw, e->auroc, 6);
                sx_csv_numf(&cw, e->cohens_d, 6);
                sx_csv_num_g(&cw, e->mean_diff, 6);
                sx_csv_numf(&cw, tot > 0 && e->mean_diff > 0 ? e->mean_diff / tot : 0.0, 6);
                sx_csv_row(&cw);
            }
    }
    free(want), free(possum);
    return sx_csv_close(&cw, err);
}

int sx_ana_toxic_run(const sx_toxic_run_opts *o, sx_err *err) {
    enum { MAXS = 16 };
    if (o->n_saes < 1 || o->n_saes > MAXS) return sx_failc(err, SX_EINVAL, "give 1 to %d SAEs", MAXS);
    if (o->context_size <= 0 || o->batch <= 0 || o->top <= 0)
        return sx_failc(err, SX_EINVAL, "context size, batch and top must be positive");
    sx_sae S[MAXS];
    const sx_sae *sp[MAXS];
    sx_effect_acc *acc[MAXS] = {0};
    sx_effect *eff[MAXS] = {0};
    int32_t *order[MAXS] = {0};
    float *doc_buf[MAXS] = {0};
    int *doc_rows[MAXS] = {0}, layers[MAXS];
    sx_hook_point points[MAXS];
    char lab[MAXS][256];
    const char *labels[MAXS];
    fam_info fi[MAXS];
    memset(S, 0, sizeof S), memset(fi, 0, sizeof fi);
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    int rc = 0, ns = 0;
    char path[4200];
    if (sx_model_load(o->model_dir, &m, err)) return -1;
    const char *tdir = o->tokenizer_dir ? o->tokenizer_dir : o->model_dir;
    if (sx_tokenizer_load(tdir, &tok, err)) { rc = -1; goto done; }
    if (o->context_size > sx_model_cfg(m)->n_ctx) {
        rc = sx_failc(err, SX_EINVAL, "%s: context size %d exceeds the model's %d", o->model_dir,
                     o->context_size, sx_model_cfg(m)->n_ctx);
        goto done;
    }
    for (; ns < o->n_saes; ns++) {
        if (sx_sae_load(o->saes[ns], &S[ns], err)) { rc = -1; goto done; }
        sp[ns] = &S[ns];
        if (sx_ana_hook_of(&S[ns], o->hook, m, &layers[ns], &points[ns], err)) {
            rc = sx_fail_prefix(err, "%s", o->saes[ns]);
            ns++;
            goto done;
        }
        if (o->labels && o->labels[ns]) snprintf(lab[ns], sizeof lab[ns], "%s", o->labels[ns]);
        else sx_sae_label(o->saes[ns], lab[ns], sizeof lab[ns]);
        labels[ns] = lab[ns];
        int D = S[ns].d_sae;
        acc[ns] = sx_effect_acc_new(D);
        eff[ns] = malloc((size_t)D * sizeof(sx_effect));
        order[ns] = malloc((size_t)D * sizeof(int32_t));
        doc_buf[ns] = malloc((size_t)o->batch * D * sizeof(float));
        doc_rows[ns] = calloc((size_t)o->batch, sizeof(int));
        if (!acc[ns] || !eff[ns] || !order[ns] || !doc_buf[ns] || !doc_rows[ns]) {
            rc = sx_failc(err, SX_ENOMEM, "%s: out of memory", o->saes[ns]);
            ns++;
            goto done;
        }
    }
    if (o->families_dir) { /* read early: a bad file fails before the long pass */
        sx_path_join(path, sizeof path, o->families_dir, "families.csv");
        int64_t total = 0;
        for (int w = 0; w < ns; w++) {
            fi[w].fam = malloc((size_t)S[w].d_sae * sizeof(int32_t));
            fi[w].size = malloc((size_t)S[w].d_sae * sizeof(int32_t));
            int64_t nl = 0;
            if (!fi[w].fam || !fi[w].size) { rc = sx_failc(err, SX_ENOMEM, "out of memory"); goto done; }
            if (sx_families_read_csv(path, labels[w], S[w].d_sae, fi[w].fam, fi[w].size, &nl, err)) {
                rc = -1;
                goto done;
            }
            total += nl;
        }
        if (total == 0 && o->verbose)
            fprintf(stderr, "note: %s has no rows for the SAE label(s) given (see --name)\n", path);
    }
    if (sx_mkdir_p(o->out_dir, err)) { rc = -1; goto done; }
    tox_ctx t = {ns, o->policy, 0, o->batch, sp, acc, doc_buf, doc_rows, NULL};
    sx_ana_enc enc = {m, sp, ns, layers, points,
                      sx_tokenizer_adds_bos(tok) ? sx_tokenizer_bos(tok) : -1, tox_rows, &t};
    int64_t nd_t = 0, nd_c = 0;
    if (run_class(o, o->toxic_spec, 1, &enc, tok, &t, &nd_t, err)) { rc = -1; goto done; }
    if (nd_t == 0) { rc = sx_failc(err, SX_ENOTFOUND, "%s: the toxic set is empty (no documents)", o->toxic_spec); goto done; }
    if (run_class(o, o->clean_spec, 0, &enc, tok, &t, &nd_c, err)) { rc = -1; goto done; }
    if (nd_c == 0) { rc = sx_failc(err, SX_ENOTFOUND, "%s: the clean set is empty (no documents)", o->clean_spec); goto done; }
    for (int w = 0; w < ns; w++) {
        if (sx_effect_acc_finish(acc[w], eff[w], err)) { rc = -1; goto done; }
        sx_effect_rank(eff[w], S[w].d_sae, o->rank_by, order[w]);
    }
    const sx_effect *const *ce = (const sx_effect *const *)eff;
    sx_path_join(path, sizeof path, o->out_dir, "latent_effects.csv");
    if (write_effects(path, labels, ce, sp, ns, err)) { rc = -1; goto done; }
    {
        char pfx[4200], phw[4200];
        sx_csv_writer fx, hw;
        sx_path_join(path, sizeof path, o->out_dir, "toxic_latents.csv");
        sx_path_join(pfx, sizeof pfx, o->out_dir, "logit_effects.csv");
        sx_path_join(phw, sizeof phw, o->out_dir, "logit_hist.csv");
        if (sx_csv_open_schema(&fx, pfx, &SX_SCHEMA_LOGIT_EFFECTS, err)) { rc = -1; goto done; }
        if (sx_csv_open_schema(&hw, phw, &SX_SCHEMA_LOGIT_HIST, err)) { sx_csv_abort(&fx); rc = -1; goto done; }
        if (write_top(o, path, labels, ce, sp, order, fi, m, tok, &fx, &hw, err)) {
            sx_csv_abort(&fx), sx_csv_abort(&hw);
            rc = -1;
            goto done;
        }
        if (sx_csv_close(&fx, err)) { sx_csv_abort(&hw); rc = -1; goto done; }
        if (sx_csv_close(&hw, err)) { rc = -1; goto done; }
    }
    if (o->families_dir) {
        sx_path_join(path, sizeof path, o->out_dir, "family_effects.csv");
        if (write_family_effects(o, path, labels, ce, sp, order, fi, err)) { rc = -1; goto done; }
    }
    if (o->verbose)
        for (int w = 0; w < ns; w++)
            fprintf(stderr, "toxic: %s: %lld toxic / %lld clean documents (%lld / %lld samples); "
                    "top latent %d, auroc %.3f, cohens_d %.3f\n", labels[w], (long long)nd_t,
                    (long long)nd_c, (long long)sx_effect_acc_count(acc[w], 1),
                    (long long)sx_effect_acc_count(acc[w], 0), order[w][0],
                    eff[w][order[w][0]].auroc, eff[w][order[w][0]].cohens_d);
done:
    for (int w = 0; w < MAXS; w++) {
        sx_effect_acc_free(acc[w]);
        free(eff[w]), free(order[w]), free(doc_buf[w]), free(doc_rows[w]);
        free(fi[w].fam), free(fi[w].size);
        if (w < ns) sx_sae_free(&S[w]);
    }
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return rc;
}
