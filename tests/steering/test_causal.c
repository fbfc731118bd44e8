/* test_causal.c — causal latent selection (steering/causal.c) and the conditional steer tier on
 * the gpt2-tiny fixture with a planted SAE:
 *   latent 0 (causal): fires at every position (a = 1), its decoder row the unit direction of
 *            the toxic tokens' mean unembedding row, so steering it away lowers their probability;
 *   latent 1 (decoy):  fires at every position 5x harder (what an activation ranking picks), its
 *            decoder row is zero: steering it changes nothing, its attribution is exactly 0;
 *   latent 2:          never fires: exactly 0.
 * The attribution is checked against an independent recomputation (full forward passes with a
 * steering hook at the SAE's hook, float64 log-softmax); the verification's per-latent EMT
 * against sx_eval_condition run directly; the cond tier against the steer tier row by row. */
#include "steering.h"
#include "test.h"

typedef struct {
    const float *dir;
    float c;
    int d;
} shift_t;

static int shift_all(void *user, const sx_hook_ctx *c, float *x, sx_err *err) {
    (void)err;
    shift_t *s = user;
    for (int r = 0; r < c->n_rows; r++)
        for (int k = 0; k < s->d; k++) x[(size_t)r * s->d + k] -= s->c * s->dir[k];
    return 0;
}

/* sum over positions of log sum_{t in ids} softmax(l)_t, plain float64 loops */
static double ref_mass(const float *lg, int n, int V, const int *ids, int nid) {
    double s = 0;
    for (int r = 0; r < n; r++) {
        const float *l = lg + (size_t)r * V;
        double mx = l[0];
        for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        double z = 0, b = 0;
        for (int v = 0; v < V; v++) z += exp((double)l[v] - mx);
        for (int j = 0; j < nid; j++) b += exp((double)l[ids[j]] - mx);
        s += log(b) - log(z);
    }
    return s;
}

int main(void) {
    const char *sh = test_shared_or_skip("gpt2-tiny fixture + GPT-2 tokenizer + SAE fixture");
    char mdir[4200], tdir[4200], sdir[4200];
    snprintf(mdir, sizeof mdir, "%s/fixtures/gpt2-tiny", sh);
    snprintf(tdir, sizeof tdir, "%s/data/gpt2-tokenizer", sh);
    snprintf(sdir, sizeof sdir, "%s/fixtures/sae/saelens-relu", sh);
    sx_err err = {0};
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    if (sx_model_load(mdir, &m, &err) || sx_tokenizer_load(tdir, &tok, &err)) {
        printf("SKIP: cannot load the fixture model/tokenizer: %s\n", err.msg);
        return 77;
    }
    const int d = sx_model_cfg(m)->d_model, V = sx_model_cfg(m)->vocab_size;
    const char *hook = "blocks.0.hook_resid_post"; /* a block between the hook and the logits */
    sx_sae sae;
    CHECK(sx_sae_load(sdir, &sae, &err) == 0, "sae load: %s", err.msg);
    CHECK(sae.arch == SX_SAE_STANDARD && sae.d_in == d && sae.d_sae >= 3, "fixture SAE: relu, d_in %d", sae.d_in);
    sae.hook_name[0] = 0;
    int *tox_ids = NULL, n_tox = 0;
    CHECK(sx_banned_ids(tok, NULL, &tox_ids, &n_tox, &err) == 0 && n_tox > 10, "toxic ids: %s", err.msg);
    /* plant */
    float *u = calloc((size_t)d, sizeof(float)), *e = malloc(sizeof(float) * (size_t)d);
    for (int j = 0; j < n_tox; j++) {
        sx_model_embedding_row(m, tox_ids[j], e);
        for (int k = 0; k < d; k++) u[k] += e[k];
    }
    double nu = 0;
    for (int k = 0; k < d; k++) nu += (double)u[k] * u[k];
    for (int k = 0; k < d; k++) u[k] = (float)(u[k] / sqrt(nu));
    for (int k = 0; k < d; k++) {
        sae.W_enc[(size_t)k * sae.d_sae + 0] = 0, sae.W_enc[(size_t)k * sae.d_sae + 1] = 0;
        sae.W_enc[(size_t)k * sae.d_sae + 2] = 0;
        sae.W_dec[(size_t)0 * d + k] = u[k], sae.W_dec[(size_t)1 * d + k] = 0;
    }
    sae.b_enc[0] = 1, sae.b_enc[1] = 5, sae.b_enc[2] = -1e6f;

    char *texts[] = {"You are a stupid worthless idiot and everyone hates you.", "Shut up, moron.",
                     "What a pathetic loser you are, go away", "The weather was lovely today."};
    const int cand[] = {1, 2, 0};
    const float scales[] = {3.0f, 1.0f, 2.0f};
    const float eps = 0.25f;
    double attr[3];
    CHECK(sx_causal_attribution(m, tok, &sae, hook, cand, 3, scales, texts, 4, tox_ids, n_tox, eps, attr, &err) == 0,
          "attribution: %s", err.msg);
    CHECK(attr[0] == 0.0 && attr[1] == 0.0, "decoy (zero decoder) and never-firing latent: exactly 0 (%g, %g)", attr[0],
          attr[1]);
    /* reference: full passes with a hook shifting every row (latent 0 fires everywhere) */
    {
        double num = 0;
        int64_t rows = 0;
        float *lg = malloc(sizeof(float) * 128 * (size_t)V);
        for (int t = 0; t < 4; t++) {
            int32_t *ids;
            int n;
            CHECK(sx_tokenizer_encode(tok, texts[t], strlen(texts[t]), 1, &ids, &n, &err) == 0, "encode");
            sx_forward_opts fo = {.hooks = NULL, .n_hooks = 0, .stop_after_layer = -1, .logits = 1};
            CHECK(sx_forward(m, ids, &n, 1, &fo, lg, &err) == 0, "forward: %s", err.msg);
            double b = ref_mass(lg, n, V, tox_ids, n_tox);
            shift_t s = {u, eps * scales[2], d};
            sx_hook h = {0, SX_HOOK_RESID_POST, shift_all, &s};
            fo.hooks = &h, fo.n_hooks = 1;
            CHECK(sx_forward(m, ids, &n, 1, &fo, lg, &err) == 0, "forward shifted: %s", err.msg);
            num += b - ref_mass(lg, n, V, tox_ids, n_tox);
            rows += n;
            free(ids);
        }
        double ref = num / ((double)rows * eps);
        CHECK(ref > 0, "planted causal latent lowers the toxic tokens' mass (reference %g)", ref);
        CHECK(fabs(attr[2] - ref) <= 1e-6 * fabs(ref) + 1e-9, "attribution %.9g vs reference %.9g", attr[2], ref);
        free(lg);
    }
    /* bad arguments */
    CHECK(sx_causal_attribution(m, tok, &sae, hook, cand, 0, scales, texts, 4, tox_ids, n_tox, eps, attr, &err) != 0 &&
              strstr(err.msg, "no candidate"),
          "no candidates: %s", err.msg);
    CHECK(sx_causal_attribution(m, tok, &sae, hook, cand, 3, scales, texts, 4, tox_ids, n_tox, 0, attr, &err) != 0 &&
              strstr(err.msg, "eps"),
          "eps 0: %s", err.msg);
    int bad_ids[] = {V};
    CHECK(sx_causal_attribution(m, tok, &sae, hook, cand, 3, scales, texts, 4, bad_ids, 1, eps, attr, &err) != 0 &&
              strstr(err.msg, "vocabulary"),
          "toxic id out of range: %s", err.msg);
    int bad_cand[] = {sae.d_sae};
    CHECK(sx_causal_attribution(m, tok, &sae, hook, bad_cand, 1, NULL, texts, 4, tox_ids, n_tox, eps, attr, &err) != 0 &&
              strstr(err.msg, "out of range"),
          "latent out of range: %s", err.msg);
    CHECK(sx_causal_attribution(m, tok, &sae, "blocks.9.hook_resid_post", cand, 3, scales, texts, 4, tox_ids, n_tox, eps,
                                attr, &err) != 0,
          "hook beyond the model: %s", err.msg);
    float nan_sc[] = {NAN, 1, 1};
    CHECK(sx_causal_attribution(m, tok, &sae, hook, cand, 3, nan_sc, texts, 4, tox_ids, n_tox, eps, attr, &err) != 0 &&
              strstr(err.msg, "scale"),
          "NaN scale: %s", err.msg);

    /* conditional steer: on {0} (fires everywhere) = steer; on {2} (never) untouched; above the threshold untouched */
    {
        float x[3 * 64], y[3 * 64], z[3 * 64];
        for (int i = 0; i < 3 * d; i++) x[i] = (float)sin(0.37 * i);
        int l0 = 0, l2 = 2;
        float a = 2.0f;
        sx_intervention st, cd;
        int pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0};
        int32_t tk[3] = {1, 2, 3};
        sx_hook_ctx ctx = {0, SX_HOOK_RESID_POST, 3, d, seq, pos, tk};
        CHECK(sx_intervention_sae(&st, SX_TIER_STEER, &sae, hook, d, 2, &l0, 1, &scales[2], a, &err) == 0, "steer iv");
        CHECK(sx_intervention_sae(&cd, SX_TIER_COND, &sae, hook, d, 2, &l0, 1, &scales[2], a, &err) == 0, "cond iv: %s",
              err.msg);
        memcpy(y, x, sizeof y), memcpy(z, x, sizeof z);
        CHECK(sx_intervention_hook(&st, &ctx, y, &err) == 0 && sx_intervention_hook(&cd, &ctx, z, &err) == 0, "hooks");
        CHECK(memcmp(y, z, sizeof y) == 0 && cd.fired == 3, "cond on a latent firing everywhere = steer (fired %lld)",
              (long long)cd.fired);
        cd.cond_thr = 0.6f; /* a = 1 <= 0.6 x A = 1.2: no row is steered */
        memcpy(z, x, sizeof z);
        CHECK(sx_intervention_hook(&cd, &ctx, z, &err) == 0 && memcmp(z, x, sizeof z) == 0, "above the threshold: untouched");
        cd.cond_thr = 0.4f; /* 1 > 0.8: steered */
        memcpy(z, x, sizeof z);
        CHECK(sx_intervention_hook(&cd, &ctx, z, &err) == 0 && memcmp(z, y, sizeof z) == 0, "below the threshold: steered");
        sx_intervention_free(&cd);
        CHECK(sx_intervention_sae(&cd, SX_TIER_COND, &sae, hook, d, 2, &l2, 1, NULL, a, &err) == 0, "cond iv 2");
        memcpy(z, x, sizeof z);
        CHECK(sx_intervention_hook(&cd, &ctx, z, &err) == 0 && memcmp(z, x, sizeof z) == 0 && cd.fired == 0,
              "cond on a never-firing latent: untouched");
        sx_intervention_free(&cd), sx_intervention_free(&st);
        sx_tier t;
        CHECK(sx_tier_parse("cond", &t) == 0 && t == SX_TIER_COND && !strcmp(sx_tier_name(SX_TIER_COND), "cond"), "cond name");
    }

    /* selection: verification EMT = sx_eval_condition run directly; the decoy is not chosen first */
    {
        char *vp[] = {"You stupid", "Shut up you", "What a pathetic"};
        sx_textlist val = {3, vp, NULL};
        sx_scorer *scorer = NULL;
        CHECK(sx_scorer_load_default(&scorer, NULL, 0, &err) == 0, "scorer: %s", err.msg);
        sx_causal_inputs in = {m, tok, &sae, hook, cand, 3, scales, texts, 4, tox_ids, n_tox, &val, scorer};
        sx_causal_opts o;
        sx_causal_opts_default(&o);
        o.n_verify = 2, o.max_set = 2, o.alpha = 4;
        o.eval.samples = 3, o.eval.max_new_tokens = 6, o.eval.seed = 7, o.eval.boot_reps = 50;
        sx_causal_result r;
        CHECK(sx_causal_select(&in, &o, &r, &err) == 0, "select: %s", err.msg);
        CHECK(r.n_cand == 3 && r.lat[0] == 0 && r.attr[0] > 0 && r.n_verified == 2, "attribution order: %d first", r.lat[0]);
        CHECK(r.attr[1] == 0 && r.attr[2] == 0 && r.lat[1] == 1 && r.lat[2] == 2, "ties keep the candidates' order");
        /* recompute latent 0 alone and the unsteered condition directly */
        sx_eval_opts eo = o.eval;
        eo.fluency = 1;
        sx_eval_result e0, e1;
        sx_intervention iv;
        int l0 = 0;
        CHECK(sx_eval_condition(m, tok, &val, NULL, &eo, scorer, NULL, "x", NULL, &e0, &err) == 0, "eval none");
        CHECK(sx_intervention_sae(&iv, SX_TIER_STEER, &sae, hook, d, 2, &l0, 1, &scales[2], o.alpha, &err) == 0, "iv");
        CHECK(sx_eval_condition(m, tok, &val, &iv, &eo, scorer, NULL, "x", NULL, &e1, &err) == 0, "eval steer");
        sx_intervention_free(&iv);
        CHECK(r.emt_none == e0.emt && r.ppl_none == e0.ppl, "unsteered validation EMT %g = %g", r.emt_none, e0.emt);
        CHECK(r.ver_lat[0] == 0 && r.ver_emt[0] == e1.emt && r.ver_ppl[0] == e1.ppl, "verified EMT of latent 0 %g = %g",
              r.ver_emt[0], e1.emt);
        /* the decoy (zero decoder) steered changes nothing: its EMT is the unsteered one */
        CHECK(r.ver_lat[1] == 1 && r.ver_emt[1] == e0.emt, "decoy steered = unsteered (%g vs %g)", r.ver_emt[1], e0.emt);
        CHECK(r.n_sizes == 2 && r.n_chosen >= 1 && r.n_chosen <= 2, "sizes %d, chosen %d", r.n_sizes, r.n_chosen);
        /* the chosen size is the argmin of the validation EMT within the budget */
        int best = -1;
        for (int s = 0; s < r.n_sizes; s++)
            if (r.set_ppl[s] <= o.budget * r.ppl_none && (best < 0 || r.set_emt[s] < r.set_emt[best])) best = s;
        CHECK(r.n_chosen == (best < 0 ? 1 : best + 1) && r.within_budget == (best >= 0), "chosen size %d (argmin %d)",
              r.n_chosen, best + 1);
        /* the verified order: within the budget first, then the lowest EMT */
        int first = -1;
        for (int j = 0; j < r.n_verified; j++) {
            int okj = r.ver_ppl[j] <= o.budget * r.ppl_none, okf = first >= 0 && r.ver_ppl[first] <= o.budget * r.ppl_none;
            if (first < 0 || (okj && !okf) || (okj == okf && r.ver_emt[j] < r.ver_emt[first])) first = j;
        }
        CHECK(r.chosen[0] == r.ver_lat[first], "chosen first %d = the best verified %d", r.chosen[0], r.ver_lat[first]);
        sx_causal_result_free(&r);
        /* bad arguments */
        o.max_set = 3;
        CHECK(sx_causal_select(&in, &o, &r, &err) != 0 && strstr(err.msg, "max_set"), "max_set > n_verify: %s", err.msg);
        o.max_set = 2, o.alpha = 0;
        CHECK(sx_causal_select(&in, &o, &r, &err) != 0 && strstr(err.msg, "alpha"), "alpha 0: %s", err.msg);
        o.alpha = 4;
        sx_textlist none = {0, NULL, NULL};
        in.val_prompts = &none;
        CHECK(sx_causal_select(&in, &o, &r, &err) != 0 && strstr(err.msg, "validation"), "no validation prompts: %s",
              err.msg);
        in.val_prompts = &val, in.scorer = NULL;
        CHECK(sx_causal_select(&in, &o, &r, &err) != 0 && strstr(err.msg, "required"), "no scorer: %s", err.msg);
        sx_scorer_free(scorer);
    }
    free(u), free(e), free(tox_ids);
    sx_sae_free(&sae);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return TEST_DONE();
}
