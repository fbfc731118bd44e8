/* residstats.c — passes over text that read the residual at a hook: the mean residual (for
 * the mean-difference baseline) and per-latent activation quantiles (the scales A_i), plus
 * reading scales from analysis output.  The model runs only up to the hook's block. */
#include "io.h"
#include "sx_json.h"
#include "steering.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_TOKENS 4096

typedef int (*row_fn)(void *user, const float *x, int n, const int *pos, int d, sx_err *err);

typedef struct {
    row_fn fn;
    void *user;
} tap;

static int tap_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    tap *t = user;
    return t->fn(t->user, x, ctx->n_rows, ctx->pos_of_row, ctx->d, err);
}

/* Run texts through the model up to the hook in batches, calling fn on the hook rows. */
static int run_texts(sx_model *m, const sx_tokenizer *tok, const char *hook, char *const *texts,
                     int64_t n, row_fn fn, void *user, sx_err *err) {
    const sx_model_config *c = sx_model_cfg(m);
    int layer;
    sx_hook_point pt;
    if (sx_hook_parse(hook, &layer, &pt, err)) return -1;
    if (layer >= c->n_layers) return sx_failc(err, SX_EINVAL, "hook %s: the model has %d layers", hook, c->n_layers);
    tap t = {fn, user};
    sx_hook h = {layer, pt, tap_hook, &t};
    sx_forward_opts fo = {.hooks = &h, .n_hooks = 1, .stop_after_layer = layer, .logits = 0};
    int32_t *toks = malloc(sizeof(int32_t) * (BATCH_TOKENS + (size_t)c->n_ctx));
    int *lens = malloc(sizeof(int) * (BATCH_TOKENS + 1));
    if (!toks || !lens) {
        free(toks);
        free(lens);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    int nt = 0, ns = 0, ret = 0;
    for (int64_t i = 0; i <= n && !ret; i++) {
        int32_t *ids = NULL;
        int ni = 0;
        if (i < n) {
            if (sx_tokenizer_encode(tok, texts[i], strlen(texts[i]), 1, &ids, &ni, err)) {
                ret = -1;
                break;
            }
            if (ni > c->n_ctx) ni = c->n_ctx;
        }
        if (ns > 0 && (i == n || nt + ni > BATCH_TOKENS)) {
            if (sx_forward(m, toks, lens, ns, &fo, NULL, err)) ret = -1;
            nt = ns = 0;
        }
        if (ni > 0 && !ret) {
            memcpy(toks + nt, ids, sizeof(int32_t) * (size_t)ni);
            nt += ni;
            lens[ns++] = ni;
        }
        free(ids);
    }
    free(toks);
    free(lens);
    return ret;
}

typedef struct {
    double *sum;
    int64_t rows;
} mean_acc;

static int mean_rows(void *user, const float *x, int n, const int *pos, int d, sx_err *err) {
    (void)err;
    mean_acc *a = user;
    for (int r = 0; r < n; r++) {
        if (pos[r] < 1) continue;
        for (int k = 0; k < d; k++) a->sum[k] += x[(size_t)r * d + k];
        a->rows++;
    }
    return 0;
}

int sx_resid_mean(sx_model *m, const sx_tokenizer *tok, const char *hook, char *const *texts,
                  int64_t n, double *mean, int64_t *n_rows, sx_err *err) {
    const int d = sx_model_cfg(m)->d_model;
    mean_acc a = {calloc((size_t)d, sizeof(double)), 0};
    if (!a.sum) return sx_failc(err, SX_ENOMEM, "out of memory");
    int rc = run_texts(m, tok, hook, texts, n, mean_rows, &a, err);
    if (!rc && a.rows == 0) rc = sx_fail(err, "no token positions >= 1 in the texts (all one token long?)");
    if (!rc)
        for (int k = 0; k < d; k++) mean[k] = a.sum[k] / (double)a.rows;
    if (n_rows) *n_rows = a.rows;
    free(a.sum);
    return rc;
}

typedef struct {
    const sx_intervention *iv;
    float **v;
    int64_t *nv, *cap;
    float *acts;
    int acap;
} scale_acc;

static int scale_rows(void *user, const float *x, int n, const int *pos, int d, sx_err *err) {
    (void)d;
    scale_acc *a = user;
    const int L = a->iv->n_lat;
    if (n * L > a->acap) {
        free(a->acts);
        a->acap = n * L;
        a->acts = malloc(sizeof(float) * (size_t)a->acap);
        if (!a->acts) return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    if (sx_intervention_acts(a->iv, x, n, a->acts, err)) return -1;
    for (int r = 0; r < n; r++) {
        if (pos[r] < 1) continue;
        for (int j = 0; j < L; j++) {
            float v = a->acts[(size_t)r * L + j];
            if (!(v > 0)) continue;
            if (a->nv[j] == a->cap[j]) {
                int64_t nc = a->cap[j] ? a->cap[j] * 2 : 1024;
                float *nvp = realloc(a->v[j], sizeof(float) * (size_t)nc);
                if (!nvp) return sx_failc(err, SX_ENOMEM, "out of memory");
                a->v[j] = nvp;
                a->cap[j] = nc;
            }
            a->v[j][a->nv[j]++] = v;
        }
    }
    return 0;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int sx_latent_scales(sx_model *m, const sx_tokenizer *tok, const sx_intervention *iv,
                     char *const *texts, int64_t n, double q, float *scales, sx_err *err) {
    const int L = iv->n_lat;
    scale_acc a = {iv, calloc((size_t)L, sizeof(float *)), calloc((size_t)L, sizeof(int64_t)),
                   calloc((size_t)L, sizeof(int64_t)), NULL, 0};
    if (!a.v || !a.nv || !a.cap) {
        free(a.v), free(a.nv), free(a.cap);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    char hook[64];
    snprintf(hook, sizeof hook, "blocks.%d.%s", iv->layer,
             iv->point == SX_HOOK_RESID_PRE ? "hook_resid_pre" : "hook_resid_post");
    int rc = run_texts(m, tok, hook, texts, n, scale_rows, &a, err);
    if (!rc) {
        double sum = 0;
        int nf = 0;
        for (int j = 0; j < L; j++) {
            if (!a.nv[j]) {
                scales[j] = NAN;
                continue;
            }
            qsort(a.v[j], (size_t)a.nv[j], sizeof(float), cmp_f);
            int64_t k = (int64_t)floor(q * (double)(a.nv[j] - 1) + 0.5);
            scales[j] = a.v[j][k];
            sum += scales[j];
            nf++;
        }
        for (int j = 0; j < L; j++)
            if (isnan(scales[j])) scales[j] = nf ? (float)(sum / nf) : 1.0f;
    }
    for (int j = 0; j < L; j++) free(a.v[j]);
    free(a.v), free(a.nv), free(a.cap), free(a.acts);
    return rc;
}

/* ---- scales from a file ---- */
static int set_scale(const int *lat, int n, float *scales, char *seen, long latent, double v) {
    for (int j = 0; j < n; j++)
        if (lat[j] == latent) {
            scales[j] = (float)v;
            seen[j] = 1;
        }
    return 0;
}

int sx_scales_load(const char *spec, const int *latents, int n_lat, float *scales, sx_err *err) {
    /* "FILE.csv#NAME": only rows whose sae column is NAME (latent_stats.csv lists every SAE) */
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    char *want_sae = strrchr(path, '#');
    if (want_sae && !strchr(want_sae, '/')) *want_sae++ = 0;
    else want_sae = NULL;
    char *seen = calloc((size_t)n_lat, 1);
    if (!seen) return sx_failc(err, SX_ENOMEM, "out of memory");
    size_t pl = strlen(path);
    int ret = 0;
    if (pl > 4 && !strcmp(path + pl - 4, ".csv")) {
        sx_csv_table t; /* io's reader (latent_stats.csv, toxic_latents.csv or a scales CSV) */
        if (sx_csv_read(path, &t, err)) {
            free(seen);
            return -1;
        }
        int col_lat = sx_csv_col(&t, "latent"), col_sae = sx_csv_col(&t, "sae"), col_s = -1;
        static const char *pref[] = {"scale", "q99", "q90", "max_act"};
        for (int k = 3; k >= 0; k--)
            if (sx_csv_col(&t, pref[k]) >= 0) col_s = sx_csv_col(&t, pref[k]);
        if (col_lat < 0 || col_s < 0)
            ret = sx_failc(err, SX_EINVAL, "%s: CSV needs a 'latent' column and one of scale, q99, q90, max_act", path);
        else if (want_sae && col_sae < 0)
            ret = sx_failc(err, SX_ENOTFOUND, "%s: '#%s' given but the CSV has no 'sae' column", path, want_sae);
        for (int64_t r = 0; r < t.nrows && !ret; r++) {
            if (want_sae && strcmp(sx_csv_cell(&t, r, col_sae), want_sae) != 0) continue;
            int64_t lat;
            double v;
            if (sx_csv_get_int(&t, r, col_lat, &lat, 0, 0, err) || sx_csv_get_num(&t, r, col_s, &v, err)) {
                ret = -1;
                break;
            }
            if (!isfinite(v)) {
                ret = sx_failc(err, SX_ECORRUPT, "%s:%lld: bad latent or scale value", path, (long long)t.line[r]);
                break;
            }
            set_scale(latents, n_lat, scales, seen, (long)lat, v);
        }
        sx_csv_free(&t);
    } else {
        cJSON *j = sx_json_parse_file(path, (size_t)1 << 30, err);
        if (!j) {
            free(seen);
            return -1;
        }
        const cJSON *it;
        if (cJSON_IsObject(j)) {
            cJSON_ArrayForEach(it, j) {
                char *e;
                long lat = strtol(it->string, &e, 10);
                if (*e || !cJSON_IsNumber(it)) {
                    ret = sx_failc(err, SX_EINVAL, "%s: expected {\"<latent>\": scale, ...}", path);
                    break;
                }
                set_scale(latents, n_lat, scales, seen, lat, it->valuedouble);
            }
        } else if (cJSON_IsArray(j)) {
            cJSON_ArrayForEach(it, j) {
                const cJSON *l = cJSON_GetObjectItem(it, "latent"), *s = cJSON_GetObjectItem(it, "scale");
                int64_t lat;
                if (sx_json_int_of(l, 0, INT32_MAX, &lat) || !cJSON_IsNumber(s)) {
                    ret = sx_failc(err, SX_EINVAL, "%s: expected [{\"latent\": i, \"scale\": x}, ...]", path);
                    break;
                }
                set_scale(latents, n_lat, scales, seen, (long)lat, s->valuedouble);
            }
        } else {
            ret = sx_failc(err, SX_EINVAL, "%s: expected a JSON object or array of scales", path);
        }
        cJSON_Delete(j);
    }
    for (int j = 0; j < n_lat && !ret; j++)
        if (!seen[j]) ret = sx_failc(err, SX_ENOTFOUND, "%s: no scale for latent %d", path, latents[j]);
        else if (!(scales[j] >= 0)) ret = sx_failc(err, SX_EINVAL, "%s: negative scale for latent %d", path, latents[j]);
    free(seen);
    return ret;
}
