/* sae_io.c — SAE files: SAELens folders (cfg.json + sae_weights.safetensors, F32/F16/BF16),
 * Gemma Scope params.npz, and the SAELens-layout writer.
 *
 * Normalisation convention: a trainer may scale inputs by norm_scale s (SAELens's
 * normalize_activations "expected_average_only_in").  On save the scale is folded into the
 * weights so the saved SAE applies to raw activations and cfg.json says
 * normalize_activations "none" (the factor is kept for the record under
 * "saetox": {"norm_scale": s, "norm_scale_folded": true}).  We fold as b_enc/s, b_dec/s,
 * threshold/s with W_enc and W_dec unchanged: pre-activations and feature activations come
 * out divided by s, reconstructions are exact in raw units, and decoder rows keep their
 * (unit) norm, so a_i * d_i is a latent's contribution in raw units (what steering uses).
 * SAELens folds into W_enc*s, W_dec/s instead; both describe the same function. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "sae_internal.h"
#include "sx_json.h"

#define CFG_MAX_BYTES (1 << 20)

const char *sx_sae_arch_name(sx_sae_arch a) {
    switch (a) {
    case SX_SAE_STANDARD: return "standard";
    case SX_SAE_TOPK: return "topk";
    case SX_SAE_BATCHTOPK: return "batchtopk";
    case SX_SAE_JUMPRELU: return "jumprelu";
    case SX_SAE_MATRYOSHKA: return "matryoshka_batchtopk";
    case SX_SAE_GATED: return "gated";
    }
    return "unknown";
}

static int needs_threshold(sx_sae_arch a) {
    return a == SX_SAE_JUMPRELU || a == SX_SAE_BATCHTOPK || a == SX_SAE_MATRYOSHKA;
}

void sx_sae_free(sx_sae *sae) {
    if (!sae) return;
    free(sae->W_enc);
    free(sae->b_enc);
    free(sae->W_dec);
    free(sae->b_dec);
    free(sae->threshold);
    free(sae->r_mag);
    free(sae->b_mag);
    memset(sae, 0, sizeof *sae);
}

/* n zeroed floats from sx__alloc_big: the encoder's product reads W_enc [d_in, d_sae] in
 * place with aligned loads only on a cache line (core/gemm.c; calloc's large blocks start 16
 * bytes past a page), and streams it whole per row block, so huge pages spare the dTLB. */
static float *zalloc_big(size_t n) {
    float *p = sx__alloc_big(n * sizeof(float));
    if (p) memset(p, 0, n * sizeof(float));
    return p;
}

int sx_sae_alloc(sx_sae *sae, sx_sae_arch arch, int d_in, int d_sae, int k, sx_err *err) {
    memset(sae, 0, sizeof *sae);
    if (d_in <= 0 || d_sae <= 0) return sx_failc(err, SX_EINVAL, "SAE: d_in and d_sae must be positive");
    sae->arch = arch;
    sae->d_in = d_in;
    sae->d_sae = d_sae;
    sae->k = k;
    sae->apply_b_dec_to_input = 1;
    sae->norm_scale = 1.0f;
    size_t nw = (size_t)d_in * (size_t)d_sae;
    sae->W_enc = zalloc_big(nw);
    sae->W_dec = zalloc_big(nw);
    sae->b_enc = calloc((size_t)d_sae, sizeof(float));
    sae->b_dec = calloc((size_t)d_in, sizeof(float));
    if (needs_threshold(arch)) sae->threshold = calloc((size_t)d_sae, sizeof(float));
    if (arch == SX_SAE_GATED) {
        sae->r_mag = calloc((size_t)d_sae, sizeof(float));
        sae->b_mag = calloc((size_t)d_sae, sizeof(float));
    }
    if (arch == SX_SAE_MATRYOSHKA) sae->n_groups = 1, sae->groups[0] = d_sae;
    if (!sae->W_enc || !sae->W_dec || !sae->b_enc || !sae->b_dec ||
        (needs_threshold(arch) && !sae->threshold) ||
        (arch == SX_SAE_GATED && (!sae->r_mag || !sae->b_mag))) {
        sx_sae_free(sae);
        return sx_failc(err, SX_ENOMEM, "SAE: out of memory for d_in %d x d_sae %d", d_in, d_sae);
    }
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* ---------- SAELens ---------- */
/* SAELens matryoshka_batchtopk: "matryoshka_widths" strictly increasing, the last = d_sae
 * (SAELens appends d_sae when it is missing; we do the same). */
static int parse_groups(const cJSON *cfg, const char *ctx, int d_sae, sx_sae *names, sx_err *err) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(cfg, "matryoshka_widths");
    names->n_groups = 0;
    if (g && !cJSON_IsNull(g)) {
        if (!cJSON_IsArray(g)) return sx_failc(err, SX_EINVAL, "%s: 'matryoshka_widths' is not an array", ctx);
        for (const cJSON *it = g->child; it; it = it->next) {
            double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
            if (!(v >= 1) || v != floor(v))
                return sx_fail(err, "%s: 'matryoshka_widths' holds a non-positive or non-integer width", ctx);
            if (v > d_sae) return sx_failc(err, SX_EINVAL, "%s: 'matryoshka_widths' entry %.0f exceeds d_sae %d", ctx, v, d_sae);
            int w = (int)v; /* in 1..d_sae: the cast is exact */
            if (names->n_groups > 0 && w <= names->groups[names->n_groups - 1])
                return sx_failc(err, SX_EINVAL, "%s: 'matryoshka_widths' must be strictly increasing", ctx);
            if (names->n_groups >= SX_SAE_MAX_GROUPS)
                return sx_failc(err, SX_EINVAL, "%s: more than %d matryoshka_widths", ctx, SX_SAE_MAX_GROUPS);
            names->groups[names->n_groups++] = w;
        }
    }
    if (names->n_groups == 0 || names->groups[names->n_groups - 1] != d_sae) {
        if (names->n_groups >= SX_SAE_MAX_GROUPS)
            return sx_failc(err, SX_EINVAL, "%s: more than %d matryoshka_widths", ctx, SX_SAE_MAX_GROUPS);
        names->groups[names->n_groups++] = d_sae;
    }
    return 0;
}

static int parse_cfg(const cJSON *cfg, const char *ctx, sx_sae_arch *arch, int *d_in, int *d_sae,
                     int *k, int *apply_bdec, float *norm_scale, sx_sae *names, sx_err *err) {
    int64_t v;
    int rc;
    if ((rc = sx_json_int(cfg, "d_in", &v, ctx, err)) < 0) return -1;
    if (rc || v <= 0 || v > (1 << 24)) return sx_failc(err, SX_ENOTFOUND, "%s: 'd_in' missing or not positive", ctx);
    *d_in = (int)v;
    if ((rc = sx_json_int(cfg, "d_sae", &v, ctx, err)) < 0) return -1;
    if (rc || v <= 0 || v > (1 << 26)) return sx_failc(err, SX_ENOTFOUND, "%s: 'd_sae' missing or not positive", ctx);
    *d_sae = (int)v;
    const char *a = "standard", *fn = "relu", *s;
    if (sx_json_str(cfg, "architecture", &a, ctx, err) < 0) return -1;
    if (sx_json_str(cfg, "activation_fn_str", &fn, ctx, err) < 0) return -1;
    *k = 0;
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(cfg, "activation_fn_kwargs");
    /* A TopK SAE checks 0 < k <= d_sae below; here k only has to fit an int. */
    if (kw && cJSON_IsObject(kw) && (rc = sx_json_int_range(kw, "k", 0, 1 << 30, &v, ctx, err)) <= 0) {
        if (rc < 0) return -1;
        *k = (int)v;
    }
    if ((rc = sx_json_int_range(cfg, "k", 0, 1 << 30, &v, ctx, err)) <= 0) { /* newer SAELens topk cfgs */
        if (rc < 0) return -1;
        *k = (int)v;
    }
    if (strcmp(a, "standard") == 0) *arch = strcmp(fn, "topk") == 0 ? SX_SAE_TOPK : SX_SAE_STANDARD;
    else if (strcmp(a, "topk") == 0) *arch = SX_SAE_TOPK;
    else if (strcmp(a, "batchtopk") == 0) *arch = SX_SAE_BATCHTOPK;
    else if (strcmp(a, "jumprelu") == 0) *arch = SX_SAE_JUMPRELU;
    else if (strcmp(a, "matryoshka_batchtopk") == 0) *arch = SX_SAE_MATRYOSHKA;
    else if (strcmp(a, "gated") == 0) *arch = SX_SAE_GATED;
    else return sx_failc(err, SX_EUNSUPPORTED, "%s: unsupported architecture '%s' (standard, topk, batchtopk, jumprelu, "
                             "matryoshka_batchtopk, gated)", ctx, a);
    if (*arch == SX_SAE_MATRYOSHKA && parse_groups(cfg, ctx, *d_sae, names, err)) return -1;
    if ((*arch == SX_SAE_STANDARD || *arch == SX_SAE_GATED) && strcmp(fn, "relu") != 0)
        return sx_failc(err, SX_EUNSUPPORTED, "%s: unsupported activation_fn_str '%s'", ctx, fn);
    if ((*arch == SX_SAE_TOPK || *arch == SX_SAE_BATCHTOPK || *arch == SX_SAE_MATRYOSHKA) && (*k <= 0 || *k > *d_sae))
        return sx_failc(err, SX_EINVAL, "%s: topk needs activation_fn_kwargs.k in 1..d_sae, got %d", ctx, *k);
    *apply_bdec = 1;
    if (sx_json_bool(cfg, "apply_b_dec_to_input", apply_bdec, ctx, err) < 0) return -1;
    *norm_scale = 1.0f;
    s = "none";
    if (sx_json_str(cfg, "normalize_activations", &s, ctx, err) < 0) return -1;
    /* "expected_average_only_in" is an identity at inference in SAELens (the factor is folded
     * into the weights when training ends); the per-token schemes we do not implement. */
    if (strcmp(s, "none") != 0 && strcmp(s, "expected_average_only_in") != 0)
        return sx_failc(err, SX_EUNSUPPORTED, "%s: unsupported normalize_activations '%s'", ctx, s);
    const cJSON *ours = cJSON_GetObjectItemCaseSensitive(cfg, "saetox");
    if (ours && cJSON_IsObject(ours)) {
        double ns;
        int folded = 1;
        if (sx_json_bool(ours, "norm_scale_folded", &folded, ctx, err) < 0) return -1;
        if (!folded && sx_json_num(ours, "norm_scale", &ns, ctx, err) == 0) {
            if (!(ns > 0) || !isfinite(ns)) return sx_failc(err, SX_EINVAL, "%s: bad saetox.norm_scale", ctx);
            *norm_scale = (float)ns;
        }
    }
    if (sx_json_str(cfg, "hook_name", &s, ctx, err) == 0)
        snprintf(names->hook_name, sizeof names->hook_name, "%s", s);
    if (sx_json_str(cfg, "model_name", &s, ctx, err) == 0)
        snprintf(names->model_name, sizeof names->model_name, "%s", s);
    return 0;
}

static int load_saelens(const char *cfg_path, const char *w_path, sx_sae *sae, sx_err *err) {
    cJSON *cfg = sx_json_parse_file(cfg_path, CFG_MAX_BYTES, err);
    if (!cfg) return -1;
    sx_sae tmpnames = {0};
    sx_sae_arch arch = SX_SAE_STANDARD;
    int d_in = 0, d_sae = 0, k = 0, abd = 1;
    float ns;
    int rc = cJSON_IsObject(cfg) ? parse_cfg(cfg, cfg_path, &arch, &d_in, &d_sae, &k, &abd, &ns,
                                             &tmpnames, err)
                                 : sx_failc(err, SX_ECORRUPT, "%s: not a JSON object", cfg_path);
    cJSON_Delete(cfg);
    if (rc) return -1;
    sx_safetensors st;
    if (sx_st_open(&st, w_path, err)) return -1;
    if (sx_sae_alloc(sae, arch, d_in, d_sae, k, err)) {
        sx_st_close(&st);
        return -1;
    }
    sae->apply_b_dec_to_input = abd;
    sae->norm_scale = ns;
    memcpy(sae->hook_name, tmpnames.hook_name, sizeof sae->hook_name);
    memcpy(sae->model_name, tmpnames.model_name, sizeof sae->model_name);
    if (arch == SX_SAE_MATRYOSHKA) {
        sae->n_groups = tmpnames.n_groups;
        memcpy(sae->groups, tmpnames.groups, sizeof sae->groups);
    }
    int64_t s_enc[2] = {d_in, d_sae}, s_dec[2] = {d_sae, d_in}, s_sae[1] = {d_sae},
            s_in[1] = {d_in};
    const int gated = arch == SX_SAE_GATED;
    rc = sx_st_read_f32_into(&st, "W_enc", 2, s_enc, sae->W_enc, err) ||
         sx_st_read_f32_into(&st, gated ? "b_gate" : "b_enc", 1, s_sae, sae->b_enc, err) ||
         (gated && sx_st_read_f32_into(&st, "r_mag", 1, s_sae, sae->r_mag, err)) ||
         (gated && sx_st_read_f32_into(&st, "b_mag", 1, s_sae, sae->b_mag, err)) ||
         sx_st_read_f32_into(&st, "W_dec", 2, s_dec, sae->W_dec, err) ||
         sx_st_read_f32_into(&st, "b_dec", 1, s_in, sae->b_dec, err);
    if (!rc && sae->threshold) {
        if (sx_st_find(&st, "threshold") || !sx_st_find(&st, "log_threshold")) {
            rc = sx_st_read_f32_into(&st, "threshold", 1, s_sae, sae->threshold, err);
        } else {
            rc = sx_st_read_f32_into(&st, "log_threshold", 1, s_sae, sae->threshold, err);
            for (int i = 0; !rc && i < d_sae; i++) sae->threshold[i] = expf(sae->threshold[i]);
        }
    }
    sx_st_close(&st);
    if (rc) {
        sx_sae_free(sae);
        return -1;
    }
    return 0;
}

/* ---------- Gemma Scope params.npz ---------- */
static const sx_npy_array *npz_get(const sx_npy_array *a, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(a[i].name, name) == 0) return &a[i];
    return NULL;
}

static int npz_take(const char *path, sx_npy_array *a, int n, const char *name, int ndim,
                    int64_t d0, int64_t d1, float **dst, sx_err *err) {
    sx_npy_array *x = (sx_npy_array *)npz_get(a, n, name);
    if (!x) return sx_failc(err, SX_ENOTFOUND, "%s: missing array '%s'", path, name);
    if (x->ndim != ndim || x->shape[0] != d0 || (ndim == 2 && x->shape[1] != d1))
        return sx_fail(err, "%s: array '%s' has the wrong shape (want [%lld%s%lld])", path, name,
                       (long long)d0, ndim == 2 ? "," : "", ndim == 2 ? (long long)d1 : 0LL);
    free(*dst);
    *dst = x->data;
    x->data = NULL;
    return 0;
}

static int load_npz(const char *path, sx_sae *sae, sx_err *err) {
    sx_npy_array *a;
    int n;
    if (sx_npz_read(path, &a, &n, err)) return -1;
    const sx_npy_array *we = npz_get(a, n, "W_enc");
    if (!we || we->ndim != 2 || we->shape[0] <= 0 || we->shape[1] <= 0 ||
        we->shape[0] > (1 << 24) || we->shape[1] > (1 << 26)) {
        sx_npz_free(a, n);
        return sx_failc(err, SX_ECORRUPT, "%s: missing or malformed 'W_enc' (want 2-d [d_in, d_sae])", path);
    }
    int d_in = (int)we->shape[0], d_sae = (int)we->shape[1];
    if (sx_sae_alloc(sae, SX_SAE_JUMPRELU, d_in, d_sae, 0, err)) {
        sx_npz_free(a, n);
        return -1;
    }
    sae->apply_b_dec_to_input = 0; /* Gemma Scope's JumpReLUSAE encodes x directly */
    int rc = npz_take(path, a, n, "W_enc", 2, d_in, d_sae, &sae->W_enc, err) ||
             npz_take(path, a, n, "W_dec", 2, d_sae, d_in, &sae->W_dec, err) ||
             npz_take(path, a, n, "b_enc", 1, d_sae, 0, &sae->b_enc, err) ||
             npz_take(path, a, n, "b_dec", 1, d_in, 0, &sae->b_dec, err) ||
             npz_take(path, a, n, "threshold", 1, d_sae, 0, &sae->threshold, err);
    sx_npz_free(a, n);
    if (rc) {
        sx_sae_free(sae);
        return -1;
    }
    return 0;
}

int sx_sae_load(const char *path, sx_sae *sae, sx_err *err) {
    sx_blas_fix_coretype(); /* before the first BLAS call (lazy part of sx_init) */
    memset(sae, 0, sizeof *sae);
    char a[4200], b[4200];
    if (sx_is_dir(path)) {
        if (sx_path_join(a, sizeof a, path, "cfg.json")) return sx_failc(err, SX_EINVAL, "%s: path too long", path);
        if (sx_file_exists(a)) {
            if (sx_path_join(b, sizeof b, path, "sae_weights.safetensors"))
                return sx_failc(err, SX_EINVAL, "%s: path too long", path);
            return load_saelens(a, b, sae, err);
        }
        if (sx_path_join(b, sizeof b, path, "params.npz")) return sx_failc(err, SX_EINVAL, "%s: path too long", path);
        if (sx_file_exists(b)) return load_npz(b, sae, err);
        return sx_failc(err, SX_ENOTFOUND, "%s: neither cfg.json (SAELens) nor params.npz (Gemma Scope) found", path);
    }
    if (!sx_file_exists(path)) return sx_failc(err, SX_ENOTFOUND, "%s: no such SAE file or folder", path);
    if (ends_with(path, ".npz")) return load_npz(path, sae, err);
    if (ends_with(path, ".safetensors")) {
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(a, sizeof a, "%.*s/cfg.json", (int)(slash - path), path);
        else snprintf(a, sizeof a, "cfg.json");
        if (!sx_file_exists(a)) return sx_failc(err, SX_ENOTFOUND, "%s: no cfg.json beside it", path);
        return load_saelens(a, path, sae, err);
    }
    return sx_failc(err, SX_ECORRUPT, "%s: not an SAE (want a SAELens folder, .safetensors or params.npz)", path);
}

/* ---------- writer ---------- */
static int hook_layer_of(const char *hook) {
    int l;
    if (sscanf(hook, "blocks.%d.", &l) == 1) return l;
    return -1;
}

int sx_sae_save_meta(const sx_sae *sae, const char *dir, const cJSON *extra, sx_err *err) {
    if (sx_mkdir_p(dir, err)) return -1;
    float s = sae->norm_scale > 0 ? sae->norm_scale : 1.0f;
    const int gated = sae->arch == SX_SAE_GATED;
    if (gated && (!sae->r_mag || !sae->b_mag)) return sx_fail(err, "%s: gated SAE without r_mag / b_mag", dir);
    const float *be = sae->b_enc, *bd = sae->b_dec, *th = sae->threshold, *bm = sae->b_mag;
    float *fbe = NULL, *fbd = NULL, *fth = NULL, *fbm = NULL;
    if (s != 1.0f) { /* fold the input scale (see the top of the file); gated: b_gate, b_mag / s */
        fbe = malloc((size_t)sae->d_sae * sizeof(float));
        fbd = malloc((size_t)sae->d_in * sizeof(float));
        fth = th ? malloc((size_t)sae->d_sae * sizeof(float)) : NULL;
        fbm = gated ? malloc((size_t)sae->d_sae * sizeof(float)) : NULL;
        if (!fbe || !fbd || (th && !fth) || (gated && !fbm)) {
            free(fbe), free(fbd), free(fth), free(fbm);
            return sx_failc(err, SX_ENOMEM, "%s: out of memory saving SAE", dir);
        }
        for (int j = 0; j < sae->d_sae; j++) fbe[j] = sae->b_enc[j] / s;
        for (int i = 0; i < sae->d_in; i++) fbd[i] = sae->b_dec[i] / s;
        for (int j = 0; th && j < sae->d_sae; j++) fth[j] = th[j] / s;
        for (int j = 0; gated && j < sae->d_sae; j++) fbm[j] = sae->b_mag[j] / s;
        be = fbe, bd = fbd, th = th ? fth : NULL, bm = gated ? fbm : NULL;
    }
    char path[4200];
    int rc = 0;
    sx_st_writer *w = sx_stw_new();
    int64_t s_enc[2] = {sae->d_in, sae->d_sae}, s_dec[2] = {sae->d_sae, sae->d_in},
            s_sae[1] = {sae->d_sae}, s_in[1] = {sae->d_in};
    if (!w || sx_path_join(path, sizeof path, dir, "sae_weights.safetensors")) rc = sx_failc(err, SX_EIO, "%s: cannot save", dir);
    if (!rc)
        rc = sx_stw_meta(w, "format", "pt", err) ||
             sx_stw_add(w, "W_enc", SX_F32, 2, s_enc, sae->W_enc, err) ||
             sx_stw_add(w, gated ? "b_gate" : "b_enc", SX_F32, 1, s_sae, be, err) ||
             (gated && sx_stw_add(w, "r_mag", SX_F32, 1, s_sae, sae->r_mag, err)) ||
             (gated && sx_stw_add(w, "b_mag", SX_F32, 1, s_sae, bm, err)) ||
             sx_stw_add(w, "W_dec", SX_F32, 2, s_dec, sae->W_dec, err) ||
             sx_stw_add(w, "b_dec", SX_F32, 1, s_in, bd, err) ||
             (th && sx_stw_add(w, "threshold", SX_F32, 1, s_sae, th, err)) ||
             sx_stw_write(w, path, err);
    sx_stw_free(w);
    free(fbe), free(fbd), free(fth), free(fbm);
    return rc ? -1 : sx_sae_save_cfg(sae, dir, extra, err);
}

int sx_sae_save_cfg(const sx_sae *sae, const char *dir, const cJSON *extra, sx_err *err) {
    float s = sae->norm_scale > 0 ? sae->norm_scale : 1.0f;
    char path[4200];
    int rc;
    cJSON *cfg = cJSON_CreateObject(), *kw, *ours;
    cJSON_AddStringToObject(cfg, "architecture", sx_sae_arch_name(sae->arch));
    cJSON_AddNumberToObject(cfg, "d_in", sae->d_in);
    cJSON_AddNumberToObject(cfg, "d_sae", sae->d_sae);
    int topk = sae->arch == SX_SAE_TOPK || sae->arch == SX_SAE_BATCHTOPK || sae->arch == SX_SAE_MATRYOSHKA;
    cJSON_AddStringToObject(cfg, "activation_fn_str", topk ? "topk" : "relu");
    kw = cJSON_AddObjectToObject(cfg, "activation_fn_kwargs");
    if (topk) cJSON_AddNumberToObject(kw, "k", sae->k);
    if (sae->arch == SX_SAE_MATRYOSHKA) cJSON_AddNumberToObject(cfg, "k", sae->k); /* SAELens: top level */
    if (sae->arch == SX_SAE_MATRYOSHKA) {
        cJSON *g = cJSON_AddArrayToObject(cfg, "matryoshka_widths");
        for (int i = 0; i < sae->n_groups; i++) cJSON_AddItemToArray(g, cJSON_CreateNumber(sae->groups[i]));
    }
    cJSON_AddBoolToObject(cfg, "apply_b_dec_to_input", sae->apply_b_dec_to_input);
    cJSON_AddBoolToObject(cfg, "finetuning_scaling_factor", 0);
    cJSON_AddStringToObject(cfg, "model_name", sae->model_name);
    cJSON_AddStringToObject(cfg, "hook_name", sae->hook_name);
    cJSON_AddNumberToObject(cfg, "hook_layer", hook_layer_of(sae->hook_name));
    cJSON_AddNullToObject(cfg, "hook_head_index");
    cJSON_AddStringToObject(cfg, "normalize_activations", "none");
    cJSON_AddStringToObject(cfg, "dtype", "float32");
    cJSON_AddStringToObject(cfg, "device", "cpu");
    ours = cJSON_AddObjectToObject(cfg, "saetox");
    cJSON_AddNumberToObject(ours, "norm_scale", s);
    cJSON_AddBoolToObject(ours, "norm_scale_folded", 1);
    if (extra) {
        for (const cJSON *it = extra->child; it; it = it->next)
            cJSON_AddItemToObject(ours, it->string, cJSON_Duplicate(it, 1));
    }
    if (sx_path_join(path, sizeof path, dir, "cfg.json")) rc = sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    else rc = sx_json_write_file(path, cfg, err);
    cJSON_Delete(cfg);
    return rc;
}

int sx_sae_save(const sx_sae *sae, const char *dir, sx_err *err) {
    return sx_sae_save_meta(sae, dir, NULL, err);
}
