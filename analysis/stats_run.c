/* stats_run.c — `analyze stats`: stream an activation cache (or text through the model) into
 * the SAE, accumulate per-latent statistics in one pass, then render the top contexts.
 *
 * Contexts need the token of every row: a "tape" of (token, group, position) per row is kept
 * (16 bytes a row: 1M tokens = 16 MB, small next to the activations themselves).  For a
 * cache it comes from /token_ids, /doc_ids, /positions after the pass; for text, from the
 * packed windows.  A context never crosses a document or a window (same doc id and
 * consecutive positions), in both modes. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"
#include "sx_json.h"
#include "datasets.h"
#include "schema.h"

void sx_stats_run_opts_default(sx_stats_run_opts *o) {
    memset(o, 0, sizeof *o);
    o->top_n = 10, o->context_size = 128, o->batch = 8;
    o->window_before = 12, o->window_after = 4, o->skip_bad = 1;
}

typedef sx_ana_tape tape;

static int tape_push(tape *t, int32_t tok, int64_t grp, int32_t pos) {
    if (t->n == t->cap) {
        int64_t nc = t->cap ? t->cap * 2 : 65536;
        int32_t *a = realloc(t->tok, (size_t)nc * sizeof *a);
        if (a) t->tok = a;
        int32_t *b = realloc(t->pos, (size_t)nc * sizeof *b);
        if (b) t->pos = b;
        int64_t *c = realloc(t->grp, (size_t)nc * sizeof *c);
        if (c) t->grp = c;
        if (!a || !b || !c) return -1;
        t->cap = nc;
    }
    t->tok[t->n] = tok, t->grp[t->n] = grp, t->pos[t->n] = pos;
    t->n++;
    return 0;
}

void sx_ana_tape_free(sx_ana_tape *t) { free(t->tok), free(t->pos), free(t->grp); }

/* Read the first n values of an optional 1-D integer dataset; 1 if absent. */
static int h5_read_ints(hid_t f, const char *name, hid_t memtype, int64_t n, void *out,
                        const char *path, sx_err *err) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return 1;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return sx_failc(err, SX_EIO, "%s: cannot open %s", path, name);
    hid_t fs = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_dims(fs, dims, NULL);
    int rc = 0;
    if (nd != 1 || (int64_t)dims[0] < n) {
        rc = sx_failc(err, SX_EINVAL, "%s: %s has shape [%llu], expected at least %lld rows", path, name,
                     (unsigned long long)dims[0], (long long)n);
    } else {
        hsize_t start = 0, cnt = (hsize_t)n;
        hid_t ms = H5Screate_simple(1, &cnt, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
        if (H5Dread(d, memtype, ms, fs, H5P_DEFAULT, out) < 0)
            rc = sx_failc(err, SX_EIO, "%s: cannot read %s", path, name);
        H5Sclose(ms);
    }
    H5Sclose(fs);
    H5Dclose(d);
    return rc;
}

int sx_ana_tape_from_cache(sx_ana_tape *t, const char *path, int64_t n, sx_err *err) {
    t->tok = malloc((size_t)(n ? n : 1) * sizeof *t->tok);
    t->pos = malloc((size_t)(n ? n : 1) * sizeof *t->pos);
    t->grp = malloc((size_t)(n ? n : 1) * sizeof *t->grp);
    if (!t->tok || !t->pos || !t->grp) return sx_failc(err, SX_ENOMEM, "%s: out of memory for token ids", path);
    t->n = t->cap = n;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sx_failc(err, SX_EIO, "%s: cannot open as HDF5", path);
    int a = h5_read_ints(f, "token_ids", H5T_NATIVE_INT32, n, t->tok, path, err);
    int b = a < 0 ? -1 : h5_read_ints(f, "positions", H5T_NATIVE_INT32, n, t->pos, path, err);
    int c = b < 0 ? -1 : h5_read_ints(f, "doc_ids", H5T_NATIVE_INT64, n, t->grp, path, err);
    H5Fclose(f);
    if (a < 0 || b < 0 || c < 0) return -1;
    t->have = a == 0;
    if (b) for (int64_t i = 0; i < n; i++) t->pos[i] = -1;   /* unknown: no contiguity check */
    if (c) for (int64_t i = 0; i < n; i++) t->grp[i] = 0;
    return 0;
}

/* The same context as row r: same group, consecutive positions (when known). */
int sx_ana_same_ctx(const sx_ana_tape *t, int64_t r, int64_t q) {
    if (q < 0 || q >= t->n || t->grp[q] != t->grp[r] || t->tok[q] < 0) return 0;
    if (t->pos[r] >= 0 && t->pos[q] >= 0 && t->pos[q] - t->pos[r] != q - r) return 0;
    return 1;
}

/* Decoded context text with every byte that is not part of a whole UTF-8 character (a
 * window edge cutting an emoji, GPT-2's byte tokens) as \xNN, so the CSV is valid UTF-8
 * and reads as text (the same rule as sx_tokenizer_token_display). */
static char *render(const sx_tokenizer *tok, const int32_t *ids, int n) {
    char *s = NULL;
    size_t len;
    if (n <= 0) return strdup("");
    if (tok && sx_tokenizer_decode(tok, ids, n, &s, &len, NULL) == 0) {
        char *o = malloc(4 * len + 1);
        if (!o) return s;
        size_t k = 0;
        for (size_t i = 0; i < len;) {
            size_t w = sx_utf8_whole((const unsigned char *)s + i, len - i);
            if (w) memcpy(o + k, s + i, w), k += w, i += w;
            else k += (size_t)snprintf(o + k, 5, "\\x%02x", (unsigned char)s[i++]);
        }
        o[k] = 0;
        free(s);
        return o;
    }
    size_t cap = (size_t)n * 14 + 1, k = 0;
    s = malloc(cap);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; i < n; i++) k += (size_t)snprintf(s + k, cap - k, "%s<%d>", i ? " " : "", ids[i]);
    return s;
}

static int write_stats(const sx_stats_run_opts *o, const char *label, const sx_stats_acc *s,
                       int d_sae, sx_err *err) {
    char path[4200];
    sx_path_join(path, sizeof path, o->out_dir, "latent_stats.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_LATENT_STATS, err)) return -1;
    for (int j = 0; j < d_sae; j++) {
        sx_latent_stat st;
        sx_stats_get(s, j, &st);
        sx_csv_str(&w, label);
        sx_csv_int(&w, j);
        const double v[] = {st.fire_freq, st.mean_act, st.max_act, st.q50, st.q90, st.q99};
        for (int i = 0; i < 6; i++) sx_csv_num_g(&w, v[i], 6);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

static int write_contexts(const sx_stats_run_opts *o, const char *label, const sx_stats_acc *s,
                          int d_sae, const tape *t, const sx_tokenizer *tok, sx_err *err) {
    char path[4200];
    sx_path_join(path, sizeof path, o->out_dir, "top_contexts.csv");
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_TOP_CONTEXTS, err)) return -1;
    int N = o->top_n, W1 = o->window_before, W2 = o->window_after;
    float *va = malloc((size_t)(N ? N : 1) * sizeof *va);
    int64_t *vr = malloc((size_t)(N ? N : 1) * sizeof *vr);
    int32_t *ids = malloc((size_t)(W1 + W2 + 1) * sizeof *ids);
    int rc = 0;
    if (!va || !vr || !ids) rc = sx_failc(err, SX_ENOMEM, "out of memory");
    for (int j = 0; j < d_sae && !rc; j++) {
        int n = sx_stats_top(s, j, va, vr);
        for (int k = 0; k < n; k++) {
            int64_t r = vr[k];
            char *b = NULL, *m = NULL, *a = NULL;
            if (t->have && r < t->n) {
                int nb = 0, na = 0;
                while (nb < W1 && sx_ana_same_ctx(t, r, r - nb - 1)) nb++;
                while (na < W2 && sx_ana_same_ctx(t, r, r + na + 1)) na++;
                for (int i = 0; i < nb; i++) ids[i] = t->tok[r - nb + i];
                b = render(tok, ids, nb);
                m = render(tok, &t->tok[r], 1);
                a = render(tok, &t->tok[r + 1], na);
            }
            sx_csv_str(&w, label);
            sx_csv_int(&w, j);
            sx_csv_int(&w, k + 1);
            sx_csv_num_g(&w, (double)va[k], 6);
            sx_csv_str(&w, b);
            sx_csv_str(&w, m);
            sx_csv_str(&w, a);
            if (t->have && r < t->n) {
                char disp[512];
                sx_csv_int(&w, t->tok[r]);
                if (!tok || sx_tokenizer_token_display(tok, t->tok[r], disp, sizeof disp) < 0)
                    snprintf(disp, sizeof disp, "<%d>", t->tok[r]);
                sx_csv_str(&w, disp);
            } else {
                sx_csv_empty(&w), sx_csv_empty(&w);
            }
            sx_csv_row(&w);
            free(b), free(m), free(a);
        }
    }
    free(va), free(vr), free(ids);
    if (rc) {
        sx_csv_abort(&w);
        return -1;
    }
    return sx_csv_close(&w, err);
}

/* stats_run.json: what this run read, so that `saetox export` can compute the feature
 * dashboards' detail (quantile-band contexts, exact histograms) for the latents it reports
 * from the same cache (sx_feature_details), without the user naming the files again.
 * Paths are absolute.  Written only in cache mode (text mode has no cache to go back to). */
static int write_manifest(const sx_stats_run_opts *o, const char *label, int64_t rows, sx_err *err) {
    char path[4200], sae[4096], cache[4096], tdir[4096];
    const char *td = o->tokenizer_dir ? o->tokenizer_dir : o->model_dir;
    if (!realpath(o->sae, sae) || !realpath(o->cache, cache)) return 0; /* nothing to point at */
    if (!td || !realpath(td, tdir)) tdir[0] = 0;
    sx_path_join(path, sizeof path, o->out_dir, "stats_run.json");
    cJSON *j = cJSON_CreateObject();
    if (!j) return sx_failc(err, SX_ENOMEM, "out of memory");
    cJSON_AddStringToObject(j, "sae_label", label);
    cJSON_AddStringToObject(j, "sae", sae);
    cJSON_AddStringToObject(j, "cache", cache);
    cJSON_AddStringToObject(j, "tokenizer", tdir);
    cJSON_AddNumberToObject(j, "rows", (double)rows);
    cJSON_AddNumberToObject(j, "window_before", o->window_before);
    cJSON_AddNumberToObject(j, "window_after", o->window_after);
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    if (!txt) return sx_failc(err, SX_ENOMEM, "out of memory");
    sx_atomic_file af;
    int rc = sx_atomic_open(&af, path, err);
    if (!rc) {
        fputs(txt, af.f);
        fputc('\n', af.f);
        rc = sx_atomic_commit(&af, err);
    }
    free(txt);
    return rc;
}

/* ---- text mode ---- */
typedef struct text_ctx {
    sx_stats_acc *acc;
    tape *t;
    const int64_t *docs; /* [batch][C] document id of each window position (packer) */
    int C;
    int64_t limit;
} text_ctx;

static int text_rows(void *user, int w, const float *acts, int n, const int *seq, const int *pos,
                     const int32_t *tokv, sx_err *err) {
    (void)w;
    text_ctx *c = user;
    int64_t room = c->limit - c->t->n;
    if (room <= 0) return 0;
    if (n > room) n = (int)room;
    if (sx_stats_add(c->acc, acts, n, c->t->n, err)) return -1;
    for (int r = 0; r < n; r++)
        if (tape_push(c->t, tokv[r], c->docs[(size_t)seq[r] * c->C + pos[r]], pos[r]))
            return sx_failc(err, SX_ENOMEM, "out of memory for the token tape");
    return 0;
}

static int stats_text(const sx_stats_run_opts *o, const sx_sae *sae, sx_stats_acc *acc, tape *t,
                      sx_tokenizer **tok_out, sx_err *err) {
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_text_source *src = NULL;
    sx_packer *pk = NULL;
    int32_t *toks = NULL;
    int64_t *docs = NULL;
    int *lens = NULL, rc = 0, layer;
    sx_hook_point pt;
    if (sx_model_load(o->model_dir, &m, err)) return -1;
    if (sx_tokenizer_load(o->tokenizer_dir ? o->tokenizer_dir : o->model_dir, &tok, err)) { rc = -1; goto done; }
    if (sx_ana_hook_of(sae, o->hook, m, &layer, &pt, err)) { rc = sx_fail_prefix(err, "%s", o->sae); goto done; }
    int C = o->context_size, B = o->batch;
    if (C > sx_model_cfg(m)->n_ctx) {
        rc = sx_failc(err, SX_EINVAL, "%s: context size %d exceeds the model's %d", o->model_dir, C, sx_model_cfg(m)->n_ctx);
        goto done;
    }
    sx_source_opts so = {.skip_bad = o->skip_bad, .html_unescape = o->html_unescape};
    if (sx_source_open(o->data, &so, &src, err)) { rc = -1; goto done; }
    int adds_bos = sx_tokenizer_adds_bos(tok);
    sx_pack_opts po = {.context_size = C, .prepend_bos = adds_bos, .bos_id = -1,
                       .separator_id = -2, .pad_id = 0};
    if (sx_packer_new(tok, src, &po, &pk, err)) { rc = -1; goto done; }
    toks = malloc((size_t)B * C * sizeof *toks);
    docs = malloc((size_t)B * C * sizeof *docs);
    lens = malloc((size_t)B * sizeof *lens);
    if (!toks || !docs || !lens) { rc = sx_failc(err, SX_ENOMEM, "out of memory"); goto done; }
    int64_t limit = o->tokens > 0 ? o->tokens : 100000;
    const sx_sae *sp = sae;
    text_ctx tc = {acc, t, docs, C, limit};
    sx_ana_enc enc = {m, &sp, 1, &layer, &pt, adds_bos ? sx_tokenizer_bos(tok) : -1, text_rows, &tc};
    sx_progress pr;
    sx_progress_start(&pr, "stats", (double)limit, "tok");
    while (t->n < limit) {
        int nb = 0, more = 1;
        while (nb < B) {
            int len = 0;
            int got = sx_packer_next(pk, toks + (size_t)nb * C, docs + (size_t)nb * C, &len, err);
            if (got < 0) { rc = -1; break; }
            if (!got) { more = 0; break; }
            if (len <= 0) continue;
            lens[nb++] = len;
        }
        if (rc) break;
        /* pack the windows contiguously for sx_forward */
        int off = 0;
        for (int i = 0; i < nb; i++) {
            memmove(toks + off, toks + (size_t)i * C, (size_t)lens[i] * sizeof *toks);
            off += lens[i];
        }
        if (nb) {
            if (sx_ana_forward_encode(&enc, toks, lens, nb, err)) { rc = -1; break; }
            sx_progress_update(&pr, (double)t->n);
        }
        if (!more) break;
    }
    sx_progress_finish(&pr);
    t->have = 1;
    if (!rc && t->n == 0) rc = sx_failc(err, SX_EINVAL, "%s: no tokens", o->data);
done:
    free(toks), free(docs), free(lens);
    sx_packer_free(pk);
    sx_source_close(src);
    sx_model_free(m);
    if (rc) sx_tokenizer_free(tok);
    else *tok_out = tok;
    return rc;
}

/* ---- cache mode ---- */
static int stats_cache(const sx_stats_run_opts *o, const sx_sae *sae, sx_stats_acc *acc, tape *t,
                       sx_err *err) {
    sx_act_reader *r = NULL;
    sx_act_reader_opts ro = {0, 0, 0};
    const char *paths[1] = {o->cache};
    if (sx_act_reader_open(paths, 1, &ro, &r, err)) return -1;
    int rc = 0;
    if (sx_act_reader_d_in(r) != sae->d_in) {
        rc = sx_failc(err, SX_EINVAL, "%s: d_in %d differs from the SAE's d_in %d (%s)", o->cache,
                     sx_act_reader_d_in(r), sae->d_in, o->sae);
        sx_act_reader_close(r);
        return rc;
    }
    int64_t total = sx_act_reader_rows(r);
    int64_t limit = o->tokens > 0 && o->tokens < total ? o->tokens : total;
    const int64_t B = 256;
    float *x = malloc((size_t)B * sae->d_in * sizeof *x);
    float *a = malloc((size_t)B * sae->d_sae * sizeof *a);
    if (!x || !a) rc = sx_failc(err, SX_ENOMEM, "out of memory");
    sx_progress pr;
    sx_progress_start(&pr, "stats", (double)limit, "tok");
    int64_t done = 0;
    while (!rc && done < limit) {
        int64_t want = limit - done < B ? limit - done : B;
        int64_t got = sx_act_reader_next(r, x, want, err);
        if (got < 0) { rc = -1; break; }
        if (got == 0) break;
        for (int64_t i = 0; i < got * sae->d_in; i++)
            if (!isfinite(x[i])) {
                rc = sx_failc(err, SX_ENUMERIC, "%s: non-finite activation in row %lld", o->cache,
                             (long long)(done + i / sae->d_in));
                break;
            }
        if (rc) break;
        if (sx_sae_encode(sae, x, got, a, NULL, err) || sx_stats_add(acc, a, got, done, err)) { rc = -1; break; }
        done += got;
        sx_progress_update(&pr, (double)done);
    }
    sx_progress_finish(&pr);
    free(x), free(a);
    sx_act_reader_close(r);
    if (!rc && done == 0) rc = sx_failc(err, SX_ENOTFOUND, "%s: no rows", o->cache);
    if (!rc) rc = sx_ana_tape_from_cache(t, o->cache, done, err);
    return rc;
}

int sx_ana_stats_run(const sx_stats_run_opts *o, sx_err *err) {
    if (!!o->cache == !!o->data) return sx_failc(err, SX_EINVAL, "give either a cache or a model and a text source");
    if (o->data && !o->model_dir) return sx_failc(err, SX_EINVAL, "a text source needs a model");
    if (o->top_n < 0 || o->context_size <= 0 || o->batch <= 0)
        return sx_failc(err, SX_EINVAL, "top-n, context size and batch must be positive");
    sx_sae S;
    memset(&S, 0, sizeof S);
    if (sx_sae_load(o->sae, &S, err)) return -1;
    char label[256];
    if (o->label) snprintf(label, sizeof label, "%s", o->label);
    else sx_sae_label(o->sae, label, sizeof label);
    sx_stats_acc *acc = sx_stats_new(S.d_sae, o->top_n);
    tape t;
    memset(&t, 0, sizeof t);
    sx_tokenizer *tok = NULL;
    int rc = 0;
    if (!acc) { rc = sx_failc(err, SX_ENOMEM, "%s: out of memory for statistics of %d latents", o->sae, S.d_sae); goto done; }
    if (sx_mkdir_p(o->out_dir, err)) { rc = -1; goto done; }
    if (o->cache) {
        if (stats_cache(o, &S, acc, &t, err)) { rc = -1; goto done; }
        const char *tdir = o->tokenizer_dir ? o->tokenizer_dir : o->model_dir;
        if (tdir && sx_tokenizer_load(tdir, &tok, err)) { rc = -1; goto done; }
    } else if (stats_text(o, &S, acc, &t, &tok, err)) {
        rc = -1;
        goto done;
    }
    if (write_stats(o, label, acc, S.d_sae, err) ||
        write_contexts(o, label, acc, S.d_sae, &t, tok, err) ||
        (o->cache && write_manifest(o, label, sx_stats_rows(acc), err))) { rc = -1; goto done; }
    if (o->verbose) {
        int dead = 0;
        for (int j = 0; j < S.d_sae; j++) {
            sx_latent_stat st;
            sx_stats_get(acc, j, &st);
            dead += st.n_fire == 0;
        }
        fprintf(stderr, "stats: %s: %lld rows, %d latents, %d never fired%s\n", label,
                (long long)sx_stats_rows(acc), S.d_sae, dead,
                t.have ? "" : " (no token ids: contexts left empty)");
    }
done:
    sx_ana_tape_free(&t);
    sx_tokenizer_free(tok);
    sx_stats_free(acc);
    sx_sae_free(&S);
    return rc;
}
