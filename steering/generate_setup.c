/* generate_setup.c — steering options of `saetox generate` turned into hooks / a logits
 * filter on sx_gen_opts, so the command only forwards its option strings:
 *   --sae PATH --latents i,j --tier ablate|suppress|steer --alpha X [--scales FILE] [--hook NAME]
 *   --meandiff-vector F.safetensors [--alpha X] [--hook NAME]
 *   --ban-words FILE   (or "builtin")
 * Several may be combined (SAE tier, then mean difference, at their hooks; the banned filter
 * at decoding). */
#include "steering.h"
#include "sx_json.h"

#include <stdlib.h>
#include <string.h>

static int parse_list(const char *s, int **out, int *n, sx_err *err) {
    int cap = 16, k = 0;
    int *v = malloc(sizeof(int) * (size_t)cap);
    const char *p = s;
    while (v && *p) {
        char *e;
        long x = strtol(p, &e, 10);
        if (e == p || x < 0 || x > (1L << 30)) break;
        if (k == cap) {
            int *nv = realloc(v, sizeof(int) * (size_t)(cap *= 2));
            if (!nv) break;
            v = nv;
        }
        v[k++] = (int)x;
        p = e;
        if (*p == ',') p++;
        else if (*p) break;
    }
    if (!v || *p || k == 0) {
        free(v);
        return sx_failc(err, SX_EINVAL, "--latents: expected comma-separated latent indices, got '%s'", s);
    }
    *out = v;
    *n = k;
    return 0;
}

/* Read a mean-difference vector: tensor "meandiff" (or the only 1-D tensor) of length d;
 * the hook from the "hook_name" metadata when the caller gives none. */
int sx_meandiff_load(const char *path, int d, float **v, char *hook, size_t hook_sz, sx_err *err) {
    sx_safetensors st;
    if (sx_st_open(&st, path, err)) return -1;
    const sx_tensor_view *t = sx_st_find(&st, "meandiff");
    for (int i = 0; !t && i < st.n; i++)
        if (st.t[i].ndim == 1) t = &st.t[i];
    int rc = 0;
    if (!t) rc = sx_failc(err, SX_ENOTFOUND, "%s: no 1-D tensor 'meandiff'", path);
    else {
        int64_t shape[1] = {d};
        rc = sx_st_read_f32(&st, t->name, 1, shape, v, err);
        if (rc) sx_fail_prefix(err, "%s: the vector must have the model's d_model %d", path, d);
    }
    const cJSON *h = st.metadata ? cJSON_GetObjectItem(st.metadata, "hook_name") : NULL;
    if (!rc && hook && !hook[0] && cJSON_IsString(h)) snprintf(hook, hook_sz, "%s", h->valuestring);
    sx_st_close(&st);
    return rc;
}

int sx_meandiff_save(const char *path, const float *v, int d, const char *hook, sx_err *err) {
    sx_st_writer *w = sx_stw_new();
    if (!w) return sx_failc(err, SX_ENOMEM, "out of memory");
    int64_t shape[1] = {d};
    int rc = sx_stw_add(w, "meandiff", SX_F32, 1, shape, v, err) || sx_stw_meta(w, "hook_name", hook, err) ||
             sx_stw_write(w, path, err);
    sx_stw_free(w);
    return rc ? -1 : 0;
}

int sx_steer_setup(const sx_steer_spec *sp, sx_model *m, const char *model_dir, sx_gen_opts *go,
                   sx_steer_state *st, sx_err *err) {
    memset(st, 0, sizeof *st);
    const sx_model_config *c = sx_model_cfg(m);
    char hook[128] = "";
    if (sp->hook) snprintf(hook, sizeof hook, "%s", sp->hook);
    int any_sae = sp->sae || sp->latents || sp->tier;
    if (any_sae) {
        if (!sp->sae || !sp->latents || !sp->tier)
            return sx_failc(err, SX_EINVAL, "SAE steering needs --sae, --latents and --tier together");
        sx_tier t;
        if (sx_tier_parse(sp->tier, &t) || (t != SX_TIER_ABLATE && t != SX_TIER_SUPPRESS && t != SX_TIER_STEER))
            return sx_failc(err, SX_EINVAL, "--tier: expected ablate, suppress or steer, got '%s'", sp->tier);
        int *lat = NULL, n = 0;
        if (parse_list(sp->latents, &lat, &n, err)) return -1;
        if (sx_sae_load(sp->sae, &st->sae, err)) {
            free(lat);
            return -1;
        }
        st->have_sae = 1;
        if (!hook[0]) snprintf(hook, sizeof hook, "%s", st->sae.hook_name);
        if (!hook[0]) {
            free(lat);
            return sx_failc(err, SX_EINVAL, "%s: the SAE names no hook; give --hook", sp->sae);
        }
        float *sc = malloc(sizeof(float) * (size_t)n);
        int rc = !sc;
        for (int j = 0; sc && j < n; j++) sc[j] = 1.0f;
        if (!rc && sp->scales) rc = sx_scales_load(sp->scales, lat, n, sc, err);
        if (!rc) {
            rc = sx_intervention_sae(&st->iv[st->n_iv], t, &st->sae, hook, c->d_model, c->n_layers, lat, n, sc,
                                     (float)sp->alpha, err);
            if (rc) sx_fail_prefix(err, "%s", sp->sae);
            else st->n_iv++;
        }
        free(lat);
        free(sc);
        if (rc) return -1;
    }
    if (sp->meandiff) {
        float *v = NULL;
        char mh[128] = "";
        snprintf(mh, sizeof mh, "%s", sp->hook ? sp->hook : "");
        if (sx_meandiff_load(sp->meandiff, c->d_model, &v, mh, sizeof mh, err)) return -1;
        if (!mh[0]) {
            free(v);
            return sx_failc(err, SX_ENOTFOUND, "%s: no hook_name metadata; give --hook", sp->meandiff);
        }
        int rc = sx_intervention_meandiff(&st->iv[st->n_iv], mh, c->d_model, c->n_layers, v, (float)sp->alpha, err);
        free(v);
        if (rc) return -1;
        st->n_iv++;
    }
    for (int i = 0; i < st->n_iv; i++) sx_intervention_attach(&st->iv[i], &st->hooks[i], go);
    go->hooks = st->n_iv ? st->hooks : NULL;
    go->n_hooks = st->n_iv;
    if (sp->ban_words) {
        sx_tokenizer *tok = NULL;
        int *ids = NULL, n = 0;
        if (sx_tokenizer_load(model_dir, &tok, err)) return -1;
        int rc = sx_banned_ids(tok, strcmp(sp->ban_words, "builtin") ? sp->ban_words : NULL, &ids, &n, err);
        sx_tokenizer_free(tok);
        if (rc) return -1;
        rc = sx_intervention_banned(&st->ban, ids, n, c->vocab_size, err);
        free(ids);
        if (rc) return -1;
        st->have_ban = 1;
        sx_intervention_attach(&st->ban, NULL, go);
    }
    return 0;
}

void sx_steer_cleanup(sx_steer_state *st) {
    for (int i = 0; i < st->n_iv; i++) sx_intervention_free(&st->iv[i]);
    if (st->have_ban) sx_intervention_free(&st->ban);
    if (st->have_sae) sx_sae_free(&st->sae);
    memset(st, 0, sizeof *st);
}
