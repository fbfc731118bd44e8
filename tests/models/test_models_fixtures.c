/* test_models_fixtures.c — GPT-2 and Gemma-2 forward passes against the float64 reference
 * outputs in ../shared/fixtures: every residual hook, final norm, logits, argmax, greedy
 * decoding (full recompute and KV cache), batched == separate, logits=last, loglik. */
#include "models_test_util.h"

static double g_maxerr[8]; /* per fixture: pre, post, final_norm, logits */

static void check_fixture(const char *shared, const char *name, double tol, int fx) {
    char dir[4096], exp_path[4200];
    snprintf(dir, sizeof dir, "%s/fixtures/%s", shared, name);
    snprintf(exp_path, sizeof exp_path, "%s/expected.safetensors", dir);
    sx_err err;
    sx_safetensors E;
    if (sx_st_open(&E, exp_path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    sx_model *m = load_or_die(dir);
    const sx_model_config *c = sx_model_cfg(m);
    int V = c->vocab_size, d = c->d_model, L = c->n_layers;
    {
        const float *W = sx_model_unembed_weights(m);
        float *row = malloc((size_t)d * sizeof *row);
        sx_model_embedding_row(m, V - 1, row);
        CHECK(W && memcmp(row, W + (size_t)(V - 1) * d, (size_t)d * sizeof *row) == 0, "%s unembed view", name);
        free(row);
    }
    int32_t *all_ids = NULL;
    int lens[3], tot = 0;
    float *sep_logits[3];
    for (int s = 0; s < 3; s++) {
        char key[64];
        int T;
        snprintf(key, sizeof key, "seq%d.ids", s);
        int32_t *ids = ids_of(&E, key, &T);
        lens[s] = T;
        all_ids = realloc(all_ids, (size_t)(tot + T) * sizeof *all_ids);
        memcpy(all_ids + tot, ids, (size_t)T * sizeof *ids);
        tot += T;
        sx_hook hooks[64];
        capture cap;
        capture_init(&cap, m, T, hooks);
        float *logits = malloc((size_t)T * V * sizeof *logits);
        sx_forward_opts fo = {hooks, L + 1, -1, 1};
        CHECK(sx_forward(m, ids, &T, 1, &fo, logits, &err) == 0, "%s seq%d forward: %s", name, s, err.msg);
        snprintf(key, sizeof key, "seq%d.resid_pre.0", s);
        float *ref = f32_of(&E, key, NULL);
        double e = test_max_abs_diff(cap.buf[0], ref, (size_t)T * d);
        CHECK(e <= tol, "%s seq%d resid_pre.0 max err %g", name, s, e);
        if (e > g_maxerr[fx * 4]) g_maxerr[fx * 4] = e;
        free(ref);
        for (int l = 0; l < L; l++) {
            snprintf(key, sizeof key, "seq%d.resid_post.%d", s, l);
            ref = f32_of(&E, key, NULL);
            e = test_max_abs_diff(cap.buf[l + 1], ref, (size_t)T * d);
            CHECK(e <= tol, "%s seq%d resid_post.%d max err %g", name, s, l, e);
            if (e > g_maxerr[fx * 4 + 1]) g_maxerr[fx * 4 + 1] = e;
            free(ref);
        }
        /* final norm through the public logit-lens path */
        float *fn = malloc((size_t)T * d * sizeof *fn);
        CHECK(sx_model_final_norm(m, cap.buf[L], T, fn, &err) == 0, "final_norm: %s", err.msg);
        snprintf(key, sizeof key, "seq%d.final_norm", s);
        ref = f32_of(&E, key, NULL);
        e = test_max_abs_diff(fn, ref, (size_t)T * d);
        CHECK(e <= tol, "%s seq%d final_norm max err %g", name, s, e);
        if (e > g_maxerr[fx * 4 + 2]) g_maxerr[fx * 4 + 2] = e;
        free(ref);
        free(fn);
        /* logits at logits_pos, and the unembed of the last residual equals the forward logits */
        int P;
        snprintf(key, sizeof key, "seq%d.logits_pos", s);
        int32_t *lp = ids_of(&E, key, &P);
        snprintf(key, sizeof key, "seq%d.logits", s);
        ref = f32_of(&E, key, NULL);
        double el = 0;
        for (int p = 0; p < P; p++) {
            double ep = test_max_abs_diff(logits + (size_t)lp[p] * V, ref + (size_t)p * V, (size_t)V);
            if (ep > el) el = ep;
        }
        CHECK(el <= tol, "%s seq%d logits max err %g", name, s, el);
        if (el > g_maxerr[fx * 4 + 3]) g_maxerr[fx * 4 + 3] = el;
        free(ref);
        free(lp);
        float *lens_logits = malloc((size_t)T * V * sizeof *lens_logits);
        CHECK(sx_model_unembed(m, cap.buf[L], T, lens_logits, &err) == 0, "unembed: %s", err.msg);
        e = test_max_abs_diff(lens_logits, logits, (size_t)T * V);
        CHECK(e <= 1e-5, "%s seq%d unembed(resid_post last) vs forward logits %g", name, s, e);
        free(lens_logits);
        snprintf(key, sizeof key, "seq%d.argmax", s);
        int32_t *am = ids_of(&E, key, &P);
        int bad = 0;
        for (int t = 0; t < T; t++) {
            int best = 0;
            for (int v = 1; v < V; v++)
                if (logits[(size_t)t * V + v] > logits[(size_t)t * V + best]) best = v;
            bad += best != am[t];
        }
        CHECK(bad == 0, "%s seq%d: %d argmax mismatches", name, s, bad);
        free(am);
        sep_logits[s] = logits;
        capture_free(&cap);
        free(ids);
    }
    /* batched forward of the three sequences == separate runs; logits=2 == last rows */
    float *bl = malloc((size_t)tot * V * sizeof *bl), *last = malloc((size_t)3 * V * sizeof *last);
    sx_forward_opts fo = {NULL, 0, -1, 1};
    CHECK(sx_forward(m, all_ids, lens, 3, &fo, bl, &err) == 0, "batched: %s", err.msg);
    fo.logits = 2;
    CHECK(sx_forward(m, all_ids, lens, 3, &fo, last, &err) == 0, "batched last: %s", err.msg);
    for (int s = 0, off = 0; s < 3; off += lens[s], s++) {
        double e = test_max_abs_diff(bl + (size_t)off * V, sep_logits[s], (size_t)lens[s] * V);
        CHECK(e <= tol / 2, "%s batched vs separate seq%d: %g", name, s, e);
        e = test_max_abs_diff(last + (size_t)s * V, sep_logits[s] + (size_t)(lens[s] - 1) * V, (size_t)V);
        CHECK(e <= tol / 2, "%s logits=last seq%d: %g", name, s, e);
    }
    /* greedy12 from seq1: full recompute, then the KV cache (alone and inside a batch) */
    int G, T1;
    int32_t *g12 = ids_of(&E, "seq1.greedy12", &G);
    int32_t *s1 = ids_of(&E, "seq1.ids", &T1);
    int32_t *seqbuf = malloc((size_t)(T1 + G) * sizeof *seqbuf);
    memcpy(seqbuf, s1, (size_t)T1 * sizeof *s1);
    float *lg = malloc((size_t)V * sizeof *lg);
    int nbad = 0;
    for (int i = 0; i < G; i++) {
        int T = T1 + i;
        sx_forward_opts f2 = {NULL, 0, -1, 2};
        if (sx_forward(m, seqbuf, &T, 1, &f2, lg, &err)) break;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        seqbuf[T] = best;
        nbad += best != g12[i];
    }
    CHECK(nbad == 0, "%s greedy12 full recompute: %d mismatches", name, nbad);
    sx_gen_opts go = {.max_new_tokens = G, .temperature = 0, .top_p = 1};
    const int32_t *pr[3] = {all_ids + lens[0] + lens[1], all_ids + lens[0], all_ids};
    int plen[3] = {lens[2], lens[1], lens[0]};
    int32_t *out[3];
    int olen[3];
    CHECK(sx_generate(m, pr + 1, plen + 1, 1, &go, out, olen, &err) == 0, "generate: %s", err.msg);
    CHECK(olen[0] == G && memcmp(out[0], g12, (size_t)G * sizeof *g12) == 0, "%s greedy12 via KV cache differs",
          name);
    free(out[0]);
    CHECK(sx_generate(m, pr, plen, 3, &go, out, olen, &err) == 0, "generate batch: %s", err.msg);
    CHECK(olen[1] == G && memcmp(out[1], g12, (size_t)G * sizeof *g12) == 0,
          "%s greedy12 via KV cache inside a batch of 3 differs", name);
    for (int i = 0; i < 3; i++) free(out[i]);
    /* loglik of the greedy continuation == sum of log-softmax picks from full logits */
    double ll = 0;
    CHECK(sx_loglik(m, s1, T1, g12, G, NULL, 0, &ll, &err) == 0, "loglik: %s", err.msg);
    int T = T1 + G;
    float *fl = malloc((size_t)T * V * sizeof *fl);
    memcpy(seqbuf + T1, g12, (size_t)G * sizeof *g12);
    sx_forward_opts f1 = {NULL, 0, -1, 1};
    CHECK(sx_forward(m, seqbuf, &T, 1, &f1, fl, &err) == 0, "forward: %s", err.msg);
    double ref_ll = 0;
    for (int i = 0; i < G; i++) {
        const float *l = fl + (size_t)(T1 - 1 + i) * V;
        double mx = l[0], z = 0;
        for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        for (int v = 0; v < V; v++) z += exp(l[v] - mx);
        ref_ll += l[g12[i]] - mx - log(z);
    }
    CHECK(ll < 0 && fabs(ll - ref_ll) < 1e-4, "%s loglik %g vs %g", name, ll, ref_ll);
    printf("%s: max errors resid_pre.0 %.3g, resid_post %.3g, final_norm %.3g, logits %.3g (tol %g)\n", name,
           g_maxerr[fx * 4], g_maxerr[fx * 4 + 1], g_maxerr[fx * 4 + 2], g_maxerr[fx * 4 + 3], tol);
    free(fl), free(lg), free(seqbuf), free(s1), free(g12), free(bl), free(last), free(all_ids);
    for (int s = 0; s < 3; s++) free(sep_logits[s]);
    sx_model_free(m);
    sx_st_close(&E);
}

int main(void) {
    const char *shared = test_shared_or_skip("the model fixtures");
    check_fixture(shared, "gpt2-tiny", 1e-4, 0);
    check_fixture(shared, "gemma2-tiny", 2e-4, 1);
    return TEST_DONE();
}
