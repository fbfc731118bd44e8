/* interventions.c — steering interventions as composable model hooks (sx_hook) and a
 * logits filter.  Tiers (DESIGN.md "Steering tiers"), per row x of the residual at the hook:
 *   ablate   x -= sum_{i in S} a_i(x) dec_i
 *   suppress x -= (a_i(x) + alpha A_i) dec_i   for each i in S with a_i(x) > 0
 *   steer    x -= alpha A_i dec_i              for each i in S, every row
 *   meandiff x -= alpha v
 *   cond     x -= alpha sum_{i in S} A_i dec_i  only at rows where some j in S has
 *            a_j(x) > cond_thr A_j: the steer acts where the toxic family fires and leaves
 *            every other position (the template, the clean text) untouched
 * Rows where nothing fires are left bit-for-bit untouched (we skip, never add zero).
 * Cost per row: 2 d |S| FLOPs for a_i (non-topk) + 2 d |S| for the update: negligible next
 * to a transformer block (~24 d^2), so steered decoding runs at unsteered speed. */
#include "steering.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *TIER_NAMES[] = {"none", "ablate", "suppress", "steer", "meandiff", "banned", "cond"};

const char *sx_tier_name(sx_tier t) {
    return (t >= SX_TIER_NONE && t <= SX_TIER_COND) ? TIER_NAMES[t] : "?";
}

int sx_tier_parse(const char *s, sx_tier *t) {
    for (int i = 0; i <= SX_TIER_COND; i++)
        if (!strcmp(s, TIER_NAMES[i])) {
            *t = (sx_tier)i;
            return 0;
        }
    return -1;
}

static int parse_hook(const char *hook, int n_layers, int *layer, sx_hook_point *pt, sx_err *err) {
    if (sx_hook_parse(hook, layer, pt, err)) return -1;
    if (*layer < 0 || *layer >= n_layers)
        return sx_failc(err, SX_EINVAL, "hook %s: the model has %d layers (0..%d)", hook, n_layers, n_layers - 1);
    return 0;
}

void sx_intervention_free(sx_intervention *iv) {
    free(iv->lat);
    free(iv->scale);
    free(iv->dec);
    free(iv->enc);
    free(iv->c0);
    free(iv->thr);
    free(iv->vec);
    free(iv->ban);
    memset(iv, 0, sizeof *iv);
}

int sx_intervention_sae(sx_intervention *iv, sx_tier tier, const sx_sae *sae, const char *hook,
                        int d_model, int n_layers, const int *latents, int n_lat,
                        const float *scales, float alpha, sx_err *err) {
    memset(iv, 0, sizeof *iv);
    if (tier != SX_TIER_ABLATE && tier != SX_TIER_SUPPRESS && tier != SX_TIER_STEER && tier != SX_TIER_COND)
        return sx_fail(err, "tier %s does not use an SAE", sx_tier_name(tier));
    if (parse_hook(hook, n_layers, &iv->layer, &iv->point, err)) return -1;
    if (sae->d_in != d_model)
        return sx_failc(err, SX_EINVAL, "SAE d_in %d does not fit the model's d_model %d", sae->d_in, d_model);
    if (sae->hook_name[0] && strcmp(sae->hook_name, hook) != 0)
        return sx_failc(err, SX_EINVAL, "SAE was trained on hook %s, not %s", sae->hook_name, hook);
    if (n_lat < 1) return sx_failc(err, SX_EINVAL, "no latents given");
    for (int j = 0; j < n_lat; j++)
        if (latents[j] < 0 || latents[j] >= sae->d_sae)
            return sx_failc(err, SX_EINVAL, "latent %d out of range: the SAE has d_sae %d (0..%d)", latents[j], sae->d_sae,
                           sae->d_sae - 1);
    const int d = d_model;
    iv->tier = tier;
    iv->d = d;
    iv->alpha = alpha;
    iv->sae = sae;
    iv->n_lat = n_lat;
    iv->lat = malloc(sizeof(int) * (size_t)n_lat);
    iv->scale = malloc(sizeof(float) * (size_t)n_lat);
    iv->dec = malloc(sizeof(float) * (size_t)n_lat * d);
    iv->enc = malloc(sizeof(float) * (size_t)n_lat * d);
    iv->c0 = malloc(sizeof(double) * (size_t)n_lat);
    if (sae->threshold) iv->thr = malloc(sizeof(float) * (size_t)n_lat);
    if (!iv->lat || !iv->scale || !iv->dec || !iv->enc || !iv->c0 || (sae->threshold && !iv->thr)) {
        sx_intervention_free(iv);
        return sx_failc(err, SX_ENOMEM, "out of memory building the intervention");
    }
    const float s = sae->norm_scale > 0 ? sae->norm_scale : 1.0f;
    for (int j = 0; j < n_lat; j++) {
        int i = latents[j];
        iv->lat[j] = i;
        iv->scale[j] = scales ? scales[j] : 1.0f;
        double c = sae->b_enc[i];
        for (int k = 0; k < d; k++) {
            iv->dec[(size_t)j * d + k] = sae->W_dec[(size_t)i * d + k] / s;
            iv->enc[(size_t)j * d + k] = sae->W_enc[(size_t)k * sae->d_sae + i];
            if (sae->apply_b_dec_to_input) c -= (double)sae->b_dec[k] * sae->W_enc[(size_t)k * sae->d_sae + i];
        }
        iv->c0[j] = c;
        if (iv->thr) iv->thr[j] = sae->threshold[i];
    }
    return 0;
}

int sx_intervention_meandiff(sx_intervention *iv, const char *hook, int d_model, int n_layers,
                             const float *v, float alpha, sx_err *err) {
    memset(iv, 0, sizeof *iv);
    if (parse_hook(hook, n_layers, &iv->layer, &iv->point, err)) return -1;
    iv->tier = SX_TIER_MEANDIFF;
    iv->d = d_model;
    iv->alpha = alpha;
    iv->vec = malloc(sizeof(float) * (size_t)d_model);
    if (!iv->vec) return sx_failc(err, SX_ENOMEM, "out of memory");
    memcpy(iv->vec, v, sizeof(float) * (size_t)d_model);
    return 0;
}

int sx_intervention_banned(sx_intervention *iv, const int *ids, int n, int vocab, sx_err *err) {
    memset(iv, 0, sizeof *iv);
    iv->tier = SX_TIER_BANNED;
    iv->ban = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!iv->ban) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (int j = 0; j < n; j++) {
        if (ids[j] < 0 || ids[j] >= vocab) {
            sx_intervention_free(iv);
            return sx_failc(err, SX_EINVAL, "banned token id %d outside the vocabulary (0..%d)", ids[j], vocab - 1);
        }
        iv->ban[j] = ids[j];
    }
    iv->n_ban = n;
    return 0;
}

/* a_i for the latents of iv, rows of x.  Non-topk: per-latent dot products in float64 (the
 * activation rule of sae_encode.c: standard relu; jumprelu / batchtopk pre > t and > 0). */
int sx_intervention_acts(const sx_intervention *iv, const float *x, int n, float *acts, sx_err *err) {
    const sx_sae *sae = iv->sae;
    const int d = iv->d, L = iv->n_lat;
    if (sae->arch == SX_SAE_TOPK || sae->arch == SX_SAE_GATED) { /* gated: two paths, see sae_encode.c */
        enum { CHUNK = 256 }; /* bounds the [rows, d_sae] scratch (25 MB at d_sae 24576) */
        int cr = n < CHUNK ? n : CHUNK;
        float *full = malloc(sizeof(float) * (size_t)(cr > 0 ? cr : 1) * sae->d_sae);
        if (!full) return sx_failc(err, SX_ENOMEM, "out of memory encoding %d rows for a topk SAE", cr);
        for (int r0 = 0; r0 < n; r0 += CHUNK) {
            int nr = n - r0 < CHUNK ? n - r0 : CHUNK;
            if (sx_sae_encode(sae, x + (size_t)r0 * d, nr, full, NULL, err)) {
                free(full);
                return -1;
            }
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < L; j++)
                    acts[(size_t)(r0 + r) * L + j] = full[(size_t)r * sae->d_sae + iv->lat[j]];
        }
        free(full);
        return 0;
    }
    const float s = sae->norm_scale > 0 ? sae->norm_scale : 1.0f;
#pragma omp parallel for schedule(static) if (n >= 64)
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * d;
        for (int j = 0; j < L; j++) {
            const float *e = iv->enc + (size_t)j * d;
            double dot = 0;
            for (int k = 0; k < d; k++) dot += (double)xr[k] * e[k];
            float pre = (float)(s * dot + iv->c0[j]);
            float a;
            if (iv->thr) a = (pre > iv->thr[j] && pre > 0) ? pre : 0;
            else a = pre > 0 ? pre : 0;
            acts[(size_t)r * L + j] = a;
        }
    }
    return 0;
}

int sx_intervention_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    sx_intervention *iv = user;
    const int d = iv->d, n = ctx->n_rows;
    if (ctx->d != d) return sx_fail(err, "intervention built for d=%d, hook has d=%d", d, ctx->d);
    iv->rows += n;
    if (iv->tier == SX_TIER_MEANDIFF) {
        const float a = iv->alpha;
        for (int r = 0; r < n; r++)
            for (int k = 0; k < d; k++) x[(size_t)r * d + k] -= a * iv->vec[k];
        return 0;
    }
    if (iv->tier == SX_TIER_STEER) {
        for (int j = 0; j < iv->n_lat; j++) {
            const float c = iv->alpha * iv->scale[j];
            if (c == 0) continue;
            const float *dv = iv->dec + (size_t)j * d;
            for (int r = 0; r < n; r++)
                for (int k = 0; k < d; k++) x[(size_t)r * d + k] -= c * dv[k];
        }
        return 0;
    }
    if (iv->tier != SX_TIER_ABLATE && iv->tier != SX_TIER_SUPPRESS && iv->tier != SX_TIER_COND) return 0;
    const int L = iv->n_lat;
    float *acts = malloc(sizeof(float) * (size_t)n * L);
    if (!acts) return sx_failc(err, SX_ENOMEM, "out of memory in the steering hook");
    if (sx_intervention_acts(iv, x, n, acts, err)) {
        free(acts);
        return -1;
    }
    /* a_i for every latent is computed from the unmodified x first (the SAE's reading of
     * this residual), then all updates are applied */
    int64_t fired = 0;
    if (iv->tier == SX_TIER_COND) {
        for (int r = 0; r < n; r++) {
            int on = 0;
            for (int j = 0; j < L && !on; j++) on = acts[(size_t)r * L + j] > iv->cond_thr * iv->scale[j];
            if (!on) continue;
            fired++;
            float *xr = x + (size_t)r * d;
            for (int j = 0; j < L; j++) {
                const float c = iv->alpha * iv->scale[j];
                const float *dv = iv->dec + (size_t)j * d;
                for (int k = 0; k < d; k++) xr[k] -= c * dv[k];
            }
        }
        iv->fired += fired;
        free(acts);
        return 0;
    }
    for (int r = 0; r < n; r++)
        for (int j = 0; j < L; j++) {
            float a = acts[(size_t)r * L + j];
            if (!(a > 0)) continue;
            fired++;
            float c = iv->tier == SX_TIER_ABLATE ? a : a + iv->alpha * iv->scale[j];
            const float *dv = iv->dec + (size_t)j * d;
            float *xr = x + (size_t)r * d;
            for (int k = 0; k < d; k++) xr[k] -= c * dv[k];
        }
    iv->fired += fired;
    free(acts);
    return 0;
}

void sx_intervention_logits(void *user, int seq, float *logits, int vocab) {
    (void)seq;
    const sx_intervention *iv = user;
    for (int j = 0; j < iv->n_ban; j++)
        if (iv->ban[j] < vocab) logits[iv->ban[j]] = -INFINITY;
}

int sx_intervention_attach(sx_intervention *iv, sx_hook *hook, sx_gen_opts *go) {
    if (iv->tier == SX_TIER_BANNED) {
        go->logits_fn = sx_intervention_logits;
        go->logits_user = iv;
        return 0;
    }
    if (iv->tier == SX_TIER_NONE) return 0;
    hook->layer = iv->layer;
    hook->point = iv->point;
    hook->fn = sx_intervention_hook;
    hook->user = iv;
    return 1;
}
