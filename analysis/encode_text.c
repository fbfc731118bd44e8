/* encode_text.c — text -> model forward to the SAE hooks -> SAE activations, streamed to a
 * callback in blocks (never [tokens, d_sae] for a whole batch).
 * Cost per token: the model up to the hook plus 2 d_in d_sae FLOP per SAE (GPT-2 small,
 * 65k latents: ~100 MFLOP). */
#include <stdlib.h>
#include <string.h>

#include "ana_internal.h"

#define ENC_ROWS 256

typedef struct hook_user {
    sx_ana_enc *e;
    int which;
    float *xb, *acts;
    int *seq, *pos;
    int32_t *tok;
} hook_user;

static int enc_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    hook_user *h = user;
    const sx_sae *sae = h->e->saes[h->which];
    const int d = ctx->d;
    int r = 0;
    while (r < ctx->n_rows) {
        int n = 0;
        for (; r < ctx->n_rows && n < ENC_ROWS; r++) {
            if (ctx->pos_of_row[r] == 0 && h->e->skip_bos_id >= 0 &&
                ctx->token_of_row[r] == h->e->skip_bos_id)
                continue;
            memcpy(h->xb + (size_t)n * d, x + (size_t)r * d, (size_t)d * sizeof(float));
            h->seq[n] = ctx->seq_of_row[r], h->pos[n] = ctx->pos_of_row[r];
            h->tok[n] = ctx->token_of_row[r];
            n++;
        }
        if (!n) continue;
        if (sx_sae_encode(sae, h->xb, n, h->acts, NULL, err)) return -1;
        if (h->e->fn(h->e->user, h->which, h->acts, n, h->seq, h->pos, h->tok, err)) return -1;
    }
    return 0;
}

int sx_ana_hook_of(const sx_sae *sae, const char *override, const sx_model *m, int *layer,
                   sx_hook_point *pt, sx_err *err) {
    const char *h = override && *override ? override : sae->hook_name;
    if (!h || !*h) return sx_failc(err, SX_ENOTFOUND, "the SAE names no hook_name; give --hook");
    if (sx_hook_parse(h, layer, pt, err)) return -1;
    const sx_model_config *c = sx_model_cfg(m);
    if (*layer >= c->n_layers)
        return sx_failc(err, SX_EINVAL, "hook %s, but the model has %d layers", h, c->n_layers);
    if (sae->d_in != c->d_model)
        return sx_failc(err, SX_EINVAL, "SAE d_in %d differs from the model's d_model %d", sae->d_in, c->d_model);
    return 0;
}

int sx_ana_forward_encode(sx_ana_enc *e, const int32_t *tokens, const int *lens, int n_seqs,
                          sx_err *err) {
    int rc = 0, deepest = 0;
    sx_hook hooks[16];
    hook_user hu[16];
    if (e->n_saes > 16) return sx_failc(err, SX_EINVAL, "at most 16 SAEs per pass");
    memset(hu, 0, sizeof hu);
    int d = sx_model_cfg(e->model)->d_model;
    for (int i = 0; i < e->n_saes; i++) {
        hu[i].e = e, hu[i].which = i;
        hu[i].xb = malloc((size_t)ENC_ROWS * d * sizeof(float));
        hu[i].acts = malloc((size_t)ENC_ROWS * e->saes[i]->d_sae * sizeof(float));
        hu[i].seq = malloc(ENC_ROWS * sizeof(int));
        hu[i].pos = malloc(ENC_ROWS * sizeof(int));
        hu[i].tok = malloc(ENC_ROWS * sizeof(int32_t));
        if (!hu[i].xb || !hu[i].acts || !hu[i].seq || !hu[i].pos || !hu[i].tok) {
            rc = sx_failc(err, SX_ENOMEM, "SAE encode: out of memory");
            goto done;
        }
        hooks[i] = (sx_hook){e->layers[i], e->points[i], enc_hook, &hu[i]};
        if (e->layers[i] > deepest) deepest = e->layers[i];
    }
    sx_forward_opts fo = {hooks, e->n_saes, deepest, 0};
    rc = sx_forward(e->model, tokens, lens, n_seqs, &fo, NULL, err);
done:
    for (int i = 0; i < e->n_saes; i++)
        free(hu[i].xb), free(hu[i].acts), free(hu[i].seq), free(hu[i].pos), free(hu[i].tok);
    return rc;
}

void sx_ana_token_cell(const char *s, char *out, size_t outsz) {
    size_t k = 0;
    if (!s) s = "";
    for (; *s && k + 5 < outsz; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f) k += (size_t)snprintf(out + k, outsz - k, "\\x%02x", c);
        else out[k++] = (char)c;
    }
    out[k] = 0;
}
