/* neuronpedia.c — OUT/neuronpedia/<sae>.json: the feature pages' data in the batch format
 * SAEDashboard's Neuronpedia runner writes, so an SAE's features can be uploaded.
 *
 * Field names follow SAEDashboard's NeuronpediaDashboardBatch / NeuronpediaDashboardFeature /
 * NeuronpediaDashboardActivation .to_dict() (github.com/jbloomAus/SAEDashboard,
 * sae_dashboard/neuronpedia/neuronpedia_dashboard.py; filled in neuronpedia_converter.py):
 *   batch:      model_id, layer, sae_set, features
 *   feature:    feature_index, neuron_alignment_indices, neuron_alignment_values,
 *               neuron_alignment_l1, correlated_neurons_indices, correlated_neurons_l1,
 *               correlated_neurons_pearson, correlated_features_indices,
 *               correlated_features_l1, correlated_features_pearson, neg_str, neg_values,
 *               pos_str, pos_values, frac_nonzero, freq_hist_data_bar_values,
 *               freq_hist_data_bar_heights, logits_hist_data_bar_heights,
 *               logits_hist_data_bar_values, n_prompts_total, n_tokens_in_prompt, dataset,
 *               decoder_weights_dist, activations
 *   activation: bin_min, bin_max, bin_contains, tokens, values
 * As there: top activations carry bin_min = -1, bin_contains = -1 and bin_max = the max;
 * interval examples their interval and its share of firing tokens; values rounded to 3
 * decimals.  The neuron/feature correlation tables are not computed (empty lists).  One
 * key is saetox's own: decoder_vector (the latent's W_dec row).  tests/export checks the
 * key sets exactly.  Tokens are the decoded text (a leading space as a space); bytes that
 * are not whole UTF-8 characters stay \xNN so the file is valid UTF-8. */
#include "export_int.h"

#include <stdlib.h>
#include <string.h>
#include <ctype.h>

#include "sx_json.h"

static double r3(double v) { return isfinite(v) ? round(v * 1000) / 1000 : 0; }

static cJSON *nums(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(r3(v[i])));
    return a;
}

/* Display text back to text where that is safe: leading U+2423 marks become spaces. */
static cJSON *token_text(const char *disp) {
    char buf[1024];
    size_t k = 0;
    while (!strncmp(disp, "\xE2\x90\xA3", 3) && k + 1 < sizeof buf) buf[k++] = ' ', disp += 3;
    snprintf(buf + k, sizeof buf - k, "%s", disp);
    return cJSON_CreateString(buf);
}

static void empty_lists(cJSON *o, const char *const *keys, int n) {
    for (int i = 0; i < n; i++) cJSON_AddItemToObject(o, keys[i], cJSON_CreateArray());
}

static cJSON *feature(const xp_run *run, const xp_feat *ft) {
    cJSON *o = cJSON_CreateObject();
    const sx_feature_detail *d = ft->d;
    cJSON_AddNumberToObject(o, "feature_index", (double)ft->latent);
    static const char *const corr[] = {"neuron_alignment_indices", "neuron_alignment_values",
                                       "neuron_alignment_l1", "correlated_neurons_indices",
                                       "correlated_neurons_l1", "correlated_neurons_pearson",
                                       "correlated_features_indices", "correlated_features_l1",
                                       "correlated_features_pearson"};
    empty_lists(o, corr, 9);
    cJSON *ns = cJSON_AddArrayToObject(o, "neg_str"), *nv = cJSON_AddArrayToObject(o, "neg_values");
    cJSON *ps = cJSON_AddArrayToObject(o, "pos_str"), *pv = cJSON_AddArrayToObject(o, "pos_values");
    int64_t nl, l0 = xp_logit_range(run, ft->sae, ft->latent, &nl);
    for (int64_t i = l0; i < l0 + nl; i++) {
        const xp_logit *l = &run->logits[i];
        cJSON_AddItemToArray(l->neg ? ns : ps, token_text(l->tok));
        cJSON_AddItemToArray(l->neg ? nv : pv, cJSON_CreateNumber(r3(l->v)));
    }
    double frac = d && d->n_rows ? (double)d->n_fire / (double)d->n_rows : 0;
    if (!d) {
        const xp_stat *st = xp_find_stat(run, ft->sae, ft->latent);
        if (st && isfinite(st->fire_freq)) frac = st->fire_freq;
    }
    cJSON_AddNumberToObject(o, "frac_nonzero", frac);
    /* activation histogram: bar_values = bin midpoints, bar_heights = firing tokens per bin */
    int nb = d && d->n_fire ? d->n_bins : 0;
    double *mid = calloc((size_t)nb + 1, sizeof *mid), *cnt = calloc((size_t)nb + 1, sizeof *cnt);
    for (int b = 0; mid && cnt && b < nb; b++)
        mid[b] = (d->bin_lo[b] + d->bin_lo[b + 1]) / 2, cnt[b] = (double)d->bin_count[b];
    cJSON_AddItemToObject(o, "freq_hist_data_bar_values", nums(mid, mid && cnt ? nb : 0));
    cJSON_AddItemToObject(o, "freq_hist_data_bar_heights", nums(cnt, mid && cnt ? nb : 0));
    free(mid), free(cnt);
    int64_t nh, h0 = xp_lhist_range(run, ft->sae, ft->latent, &nh);
    cJSON *lh = cJSON_AddArrayToObject(o, "logits_hist_data_bar_heights");
    cJSON *lv = cJSON_AddArrayToObject(o, "logits_hist_data_bar_values");
    for (int64_t i = h0; i < h0 + nh; i++) {
        cJSON_AddItemToArray(lh, cJSON_CreateNumber((double)run->lhist[i].count));
        cJSON_AddItemToArray(lv, cJSON_CreateNumber(r3((run->lhist[i].lo + run->lhist[i].hi) / 2)));
    }
    cJSON_AddNumberToObject(o, "n_prompts_total", 0);
    cJSON_AddNumberToObject(o, "n_tokens_in_prompt", 0);
    if (d) cJSON_SetNumberValue(cJSON_GetObjectItem(o, "n_prompts_total"), (double)d->n_rows);
    cJSON_AddStringToObject(o, "dataset", "");
    cJSON_AddItemToObject(o, "decoder_weights_dist", cJSON_CreateArray());
    cJSON *acts = cJSON_AddArrayToObject(o, "activations");
    for (int i = 0; d && i < d->n_ex; i++) {
        const sx_feature_example *e = &d->ex[i];
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "bin_min", e->band < 0 ? -1 : r3(e->bin_min));
        cJSON_AddNumberToObject(a, "bin_max", r3(e->bin_max));
        cJSON_AddNumberToObject(a, "bin_contains", e->band < 0 ? -1 : e->bin_contains);
        cJSON *tk = cJSON_AddArrayToObject(a, "tokens"), *vs = cJSON_AddArrayToObject(a, "values");
        for (int k = 0; k < e->n_tok; k++) {
            cJSON_AddItemToArray(tk, token_text(e->text[k]));
            cJSON_AddItemToArray(vs, cJSON_CreateNumber(r3(e->vals[k])));
        }
        cJSON_AddItemToArray(acts, a);
    }
    cJSON *dv = cJSON_AddArrayToObject(o, "decoder_vector");
    for (int k = 0; d && k < d->d_in; k++) cJSON_AddItemToArray(dv, cJSON_CreateNumber(d->dec[k]));
    return o;
}

int xp_write_neuronpedia(const xp_run *run, const char *out_dir, sx_export_notes *notes, sx_err *err) {
    if (!run->n_feats) return 0;
    char dir[4000], path[4200], name[160];
    sx_path_join(dir, sizeof dir, out_dir, "neuronpedia");
    if (sx_mkdir_p(dir, err)) return -1;
    for (int s = 0; s < run->n_sae; s++) {
        int any = 0;
        for (int64_t i = 0; i < run->n_feats; i++) any |= run->feats[i].sae == s;
        if (!any) continue;
        size_t k = 0;
        for (const char *p = run->sae[s]; *p && k + 1 < sizeof name; p++)
            name[k++] = (isalnum((unsigned char)*p) || strchr("._-", *p)) ? *p : '_';
        name[k] = 0;
        snprintf(path, sizeof path, "%s/%s.json", dir, name);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "model_id", "");
        cJSON_AddNumberToObject(b, "layer", 0);
        cJSON_AddStringToObject(b, "sae_set", run->sae[s]);
        cJSON *fs = cJSON_AddArrayToObject(b, "features");
        for (int64_t i = 0; i < run->n_feats; i++)
            if (run->feats[i].sae == s) cJSON_AddItemToArray(fs, feature(run, &run->feats[i]));
        char *txt = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        if (!txt) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
        sx_atomic_file af;
        int rc = sx_atomic_open(&af, path, err);
        if (!rc) {
            fputs(txt, af.f);
            fputc('\n', af.f);
            rc = sx_atomic_commit(&af, err);
        }
        free(txt);
        if (rc) return -1;
        xp_note(notes, "wrote %s", path);
    }
    return 0;
}
