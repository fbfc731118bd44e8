/* causal_pick.c — the causal latent selection of `saetox study` and `saetox demo` (issue 19,
 * item 3) around the library's sx_causal_select (steering/causal.c): the candidates are the
 * narrow SAE's top M latents by activation contrast (toxic_latents.csv), their scales A_i the
 * sweep's (99th percentile of the positive activations on the toxic selection texts); the
 * validation prompts are the first V toxic selection texts that are not evaluation prompts, the
 * attribution texts the next ones (at most 64).  Writes DIR/causal_latents.csv and returns the
 * chosen latents as "I,J,..". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "demo.h"
#include "io.h"
#include "schema.h"
#include "steering.h"

static int in_list(const sx_textlist *t, const char *s) {
    for (int64_t i = 0; t && i < t->n; i++)
        if (!strcmp(t->text[i], s)) return 1;
    return 0;
}

static int write_table(const char *path, const sx_causal_result *r, const int32_t *top, int n_top, sx_err *err) {
    sx_csv_writer w;
    if (sx_csv_open_schema(&w, path, &SX_SCHEMA_CAUSAL, err)) return -1;
    for (int j = 0; j < r->n_cand; j++) {
        int rank = 0, chosen = 0;
        for (int k = 0; k < n_top; k++)
            if (top[k] == r->lat[j]) rank = k + 1;
        for (int k = 0; k < r->n_chosen; k++) chosen |= r->chosen[k] == r->lat[j];
        double ve = NAN, vp = NAN;
        if (j < r->n_verified) ve = r->ver_emt[j], vp = r->ver_ppl[j];
        sx_csv_str(&w, "candidate");
        sx_csv_int(&w, r->lat[j]);
        sx_csv_int(&w, rank);
        sx_csv_num(&w, r->attr[j]);
        sx_csv_int(&w, 1);
        sx_csv_num(&w, ve);
        sx_csv_num(&w, vp);
        sx_csv_num(&w, r->emt_none);
        sx_csv_num(&w, r->ppl_none);
        sx_csv_int(&w, chosen);
        sx_csv_row(&w);
    }
    for (int s = 0; s < r->n_sizes; s++) {
        sx_csv_str(&w, "set");
        sx_csv_int(&w, -1);
        sx_csv_num(&w, NAN);
        sx_csv_num(&w, NAN);
        sx_csv_int(&w, s + 1);
        sx_csv_num(&w, r->set_emt[s]);
        sx_csv_num(&w, r->set_ppl[s]);
        sx_csv_num(&w, r->emt_none);
        sx_csv_num(&w, r->ppl_none);
        sx_csv_int(&w, s + 1 == r->n_chosen);
        sx_csv_row(&w);
    }
    return sx_csv_close(&w, err);
}

int demo_causal_pick(demo_ctx *c, const demo_causal_cfg *cfg, const char *analysis, const sx_textlist *toxic,
                     const sx_textlist *eval_prompts, const sx_scorer *scorer, const int *ban, int nban,
                     const char *out_dir, char *latents, size_t latents_sz, sx_err *err) {
    char p[4300];
    sx_latent_pick pk;
    int M = cfg->m < SX_PICK_MAX_TOP ? cfg->m : SX_PICK_MAX_TOP;
    if (demo_read_pick(c, analysis, M, &pk, err)) return -1;
    /* validation prompts and attribution texts from the toxic selection texts, never an evaluation prompt */
    sx_textlist val = {0};
    char **attr_texts = malloc(sizeof(char *) * (size_t)(toxic->n + 1));
    val.text = malloc(sizeof(char *) * (size_t)(toxic->n + 1));
    int64_t n_attr = 0;
    if (!attr_texts || !val.text) {
        free(attr_texts), free(val.text);
        return sx_failc(err, SX_ENOMEM, "causal selection: out of memory");
    }
    for (int64_t i = 0; i < toxic->n; i++) {
        if (in_list(eval_prompts, toxic->text[i])) continue;
        if (val.n < cfg->n_val) val.text[val.n++] = toxic->text[i];
        else if (n_attr < 64) attr_texts[n_attr++] = toxic->text[i];
    }
    sx_sae sae;
    memset(&sae, 0, sizeof sae);
    float *scales = NULL;
    int cand[SX_PICK_MAX_TOP], have_sae = 0;
    sx_causal_result res;
    memset(&res, 0, sizeof res);
    int rc = -1;
    if (val.n < 1 || n_attr < 1) {
        sx_failc(err, SX_EINVAL, "causal selection: %lld toxic selection texts outside the evaluation prompts (need at "
                                 "least %d for validation and 1 for the attribution)",
                 (long long)(val.n + n_attr), cfg->n_val);
        goto done;
    }
    if (sx_sae_load(c->sae_narrow, &sae, err)) goto done;
    have_sae = 1;
    for (int j = 0; j < pk.n_top; j++) cand[j] = pk.top[j];
    scales = malloc(sizeof(float) * (size_t)(pk.n_top + 1));
    if (!scales) {
        sx_failc(err, SX_ENOMEM, "causal selection: out of memory");
        goto done;
    }
    {
        sx_intervention iv;
        const sx_model_config *mc = sx_model_cfg(c->m);
        if (sx_intervention_sae(&iv, SX_TIER_ABLATE, &sae, c->hook, mc->d_model, mc->n_layers, cand, pk.n_top, NULL, 0,
                                err))
            goto done;
        int r2 = sx_latent_scales(c->m, c->tok, &iv, toxic->text, toxic->n, 0.99, scales, err);
        sx_intervention_free(&iv);
        if (r2) goto done;
    }
    sx_causal_inputs in = {c->m, c->tok, &sae, c->hook, cand, pk.n_top, scales, attr_texts, n_attr, ban, nban, &val,
                           scorer};
    sx_causal_opts o;
    sx_causal_opts_default(&o);
    o.n_verify = cfg->n_verify < pk.n_top ? cfg->n_verify : pk.n_top;
    o.max_set = o.n_verify;
    o.alpha = (float)cfg->alpha;
    o.eval.samples = cfg->samples;
    o.eval.max_new_tokens = cfg->max_new_tokens;
    o.eval.seed = cfg->seed;
    if (sx_causal_select(&in, &o, &res, err)) goto done;
    if (sx_mkdir_p(out_dir, err)) goto done;
    snprintf(p, sizeof p, "%s/causal_latents.csv", out_dir);
    if (write_table(p, &res, pk.top, pk.n_top, err)) goto done;
    latents[0] = 0;
    for (int j = 0, used = 0; j < res.n_chosen && used + 16 < (int)latents_sz; j++)
        used += snprintf(latents + used, latents_sz - (size_t)used, "%s%d", j ? "," : "", res.chosen[j]);
    double act_top_attr = 0;
    for (int j = 0; j < res.n_cand; j++)
        if (res.lat[j] == pk.top[0]) act_top_attr = res.attr[j];
    fprintf(stderr, "      causal selection: %d candidates, attribution top %d (%.3g), activation top %d (%.3g); "
                    "validation EMT unsteered %.3f, best single %.3f; chosen %s (%d latent%s%s)\n",
            res.n_cand, res.lat[0], res.attr[0], (int)pk.top[0], act_top_attr, res.emt_none, res.set_emt[0], latents,
            res.n_chosen,
            res.n_chosen == 1 ? "" : "s", res.within_budget ? "" : "; no set kept the perplexity budget");
    rc = 0;
done:
    sx_causal_result_free(&res);
    if (have_sae) sx_sae_free(&sae);
    free(scales), free(attr_texts), free(val.text);
    return rc;
}
