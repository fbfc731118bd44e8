/* test_model.c — interventions inside a real forward pass / generation on the gpt2-tiny
 * fixture: the mean-difference vector equals a float64 recomputation from captured
 * residuals; a never-firing ablate leaves generation bit-identical; a planted direction
 * is removed by steering; bad inputs are rejected. */
#include "steering.h"
#include "test.h"

typedef struct {
    double *sum;
    int64_t rows;
    int d;
} cap;

static int capture(void *user, const sx_hook_ctx *c, float *x, sx_err *err) {
    (void)err;
    cap *k = user;
    for (int r = 0; r < c->n_rows; r++)
        if (c->pos_of_row[r] >= 1) {
            for (int j = 0; j < c->d; j++) k->sum[j] += x[(size_t)r * c->d + j];
            k->rows++;
        }
    return 0;
}

/* float64 mean of the hook rows, one text per forward pass */
static void ref_mean(sx_model *m, const sx_tokenizer *tok, char **texts, int n, double *mean) {
    int d = sx_model_cfg(m)->d_model;
    cap k = {calloc(d, sizeof(double)), 0, d};
    sx_hook h = {1, SX_HOOK_RESID_POST, capture, &k};
    sx_forward_opts fo = {.hooks = &h, .n_hooks = 1, .stop_after_layer = -1, .logits = 0};
    sx_err err;
    for (int i = 0; i < n; i++) {
        int32_t *ids;
        int ni;
        sx_tokenizer_encode(tok, texts[i], strlen(texts[i]), 1, &ids, &ni, &err);
        CHECK(sx_forward(m, ids, &ni, 1, &fo, NULL, &err) == 0, "forward: %s", err.msg);
        free(ids);
    }
    for (int j = 0; j < d; j++) mean[j] = k.sum[j] / (double)k.rows;
    free(k.sum);
}

int main(void) {
    const char *sh = test_shared_or_skip("gpt2-tiny fixture + GPT-2 tokenizer");
    char mdir[4200], tdir[4200], sdir[4200];
    snprintf(mdir, sizeof mdir, "%s/fixtures/gpt2-tiny", sh);
    snprintf(tdir, sizeof tdir, "%s/data/gpt2-tokenizer", sh);
    snprintf(sdir, sizeof sdir, "%s/fixtures/sae/saelens-relu", sh);
    sx_err err;
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    if (sx_model_load(mdir, &m, &err) || sx_tokenizer_load(tdir, &tok, &err)) {
        printf("SKIP: cannot load the fixture model/tokenizer: %s\n", err.msg);
        return 77;
    }
    const int d = sx_model_cfg(m)->d_model;
    char *tox[] = {"You are a stupid worthless idiot and everyone hates you.", "Shut up, moron.",
                   "What a pathetic loser you are, go away"};
    char *cln[] = {"The weather was lovely and we walked along the river.", "Please pass the salt.",
                   "She planted tomatoes in the garden before the rain started."};
    /* 1. mean difference = float64 recomputation */
    double a[64], b[64], ra[64], rb[64];
    int64_t na = 0;
    CHECK(sx_resid_mean(m, tok, "blocks.1.hook_resid_post", tox, 3, a, &na, &err) == 0, "resid mean: %s", err.msg);
    CHECK(sx_resid_mean(m, tok, "blocks.1.hook_resid_post", cln, 3, b, NULL, &err) == 0, "resid mean");
    ref_mean(m, tok, tox, 3, ra);
    ref_mean(m, tok, cln, 3, rb);
    double worst = 0, nrm = 0;
    for (int j = 0; j < d; j++) {
        worst = fmax(worst, fabs((a[j] - b[j]) - (ra[j] - rb[j])));
        nrm = fmax(nrm, fabs(ra[j] - rb[j]));
    }
    CHECK(worst <= 1e-5 * fmax(1, nrm), "mean-difference vector vs float64 (max diff %g, scale %g)", worst, nrm);
    CHECK(na > 10, "positions averaged %lld", (long long)na);
    /* 2. generation: ablate with a never-firing SAE is bit-identical to no intervention */
    sx_sae sae;
    CHECK(sx_sae_load(sdir, &sae, &err) == 0, "sae load: %s", err.msg);
    int32_t prompt[] = {464, 3290, 318, 257};
    const int32_t *pr[2] = {prompt, prompt};
    int pl[2] = {4, 4};
    int32_t *o1[2], *o2[2];
    int l1[2], l2[2];
    sx_gen_opts go = {.max_new_tokens = 8, .temperature = 1, .top_p = 0.9f, .seed = 5};
    CHECK(sx_generate(m, pr, pl, 2, &go, o1, l1, &err) == 0, "generate: %s", err.msg);
    int lat[] = {0, 1, 2};
    for (int j = 0; j < 3; j++) sae.b_enc[lat[j]] = -1e6f;
    sx_intervention iv;
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &sae, "blocks.1.hook_resid_post", d, 2, lat, 3, NULL, 0, &err) == 0,
          "build: %s", err.msg);
    sx_hook h;
    CHECK(sx_intervention_attach(&iv, &h, &go) == 1, "one hook");
    go.hooks = &h;
    go.n_hooks = 1;
    CHECK(sx_generate(m, pr, pl, 2, &go, o2, l2, &err) == 0, "generate steered: %s", err.msg);
    CHECK(l1[0] == l2[0] && memcmp(o1[0], o2[0], sizeof(int32_t) * l1[0]) == 0 && memcmp(o1[1], o2[1], sizeof(int32_t) * l1[1]) == 0,
          "silent ablate: identical tokens");
    CHECK(iv.rows >= 8 && iv.fired == 0, "hook ran on prompt and generated rows (%lld)", (long long)iv.rows);
    sx_intervention_free(&iv);
    for (int i = 0; i < 2; i++) free(o1[i]), free(o2[i]);
    /* 3. a planted direction: steering along a latent whose decoder row is the direction
     * that increases a target token's logit lowers that token's probability */
    {
        int target = 9352; /* the fixture's greedy continuation token */
        float *e = malloc(sizeof(float) * d);
        sx_model_embedding_row(m, target, e);
        double n2 = 0;
        for (int k = 0; k < d; k++) n2 += (double)e[k] * e[k];
        for (int k = 0; k < d; k++) sae.W_dec[0 * d + k] = (float)(e[k] / sqrt(n2));
        int32_t ids[] = {0, 48218, 39507, 50256, 48941, 1054, 15380};
        double lp0, lp1;
        int32_t cont[] = {target};
        CHECK(sx_loglik(m, ids, 7, cont, 1, NULL, 0, &lp0, &err) == 0, "loglik");
        float sc[] = {1};
        CHECK(sx_intervention_sae(&iv, SX_TIER_STEER, &sae, "blocks.1.hook_resid_post", d, 2, lat, 1, sc, 20.0f, &err) == 0, "steer");
        sx_gen_opts g2 = {0};
        sx_intervention_attach(&iv, &h, &g2);
        CHECK(sx_loglik(m, ids, 7, cont, 1, &h, 1, &lp1, &err) == 0, "loglik steered");
        CHECK(lp1 < lp0 - 1.0, "steering away from the planted direction lowers log p(target): %g -> %g", lp0, lp1);
        sx_intervention_free(&iv);
        free(e);
    }
    /* 4. bad inputs */
    const char *dir = test_tmpdir("steering_model");
    char empty[4200];
    snprintf(empty, sizeof empty, "%s/empty.txt", dir);
    sx_write_file_atomic(empty, "", 0, &err);
    sx_textlist tl;
    CHECK(sx_textlist_load(empty, 0, &tl, &err) != 0 && strstr(err.msg, "empty"), "empty prompt file: %s", err.msg);
    int big[] = {sae.d_sae};
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &sae, "blocks.1.hook_resid_post", d, 2, big, 1, NULL, 0, &err) != 0,
          "latent index >= d_sae: %s", err.msg);
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &sae, "blocks.0.hook_resid_post", d, 2, lat, 1, NULL, 0, &err) != 0,
          "SAE hook does not fit: %s", err.msg);
    CHECK(sx_intervention_sae(&iv, SX_TIER_ABLATE, &sae, "blocks.1.hook_resid_post", 2 * d, 2, lat, 1, NULL, 0, &err) != 0,
          "SAE d_in does not fit: %s", err.msg);
    /* the `generate` steering setup: SAE tier + mean-difference file + banned words */
    {
        char mdf[4200], words[4200];
        snprintf(mdf, sizeof mdf, "%s/md.safetensors", dir);
        snprintf(words, sizeof words, "%s/words.txt", dir);
        float v[64];
        for (int k = 0; k < d; k++) v[k] = (float)(a[k] - b[k]);
        CHECK(sx_meandiff_save(mdf, v, d, "blocks.1.hook_resid_post", &err) == 0, "meandiff save: %s", err.msg);
        sx_write_file_atomic(words, "idiot\nstupid\n", 13, &err);
        char mdl[4200];
        snprintf(mdl, sizeof mdl, "%s", tdir); /* tokenizer folder stands in for the model dir */
        sx_steer_spec sp = {.sae = sdir, .latents = "3,17", .tier = "suppress", .alpha = 1.0, .meandiff = mdf,
                            .ban_words = words};
        sx_steer_state st;
        sx_gen_opts g3 = {.max_new_tokens = 6, .temperature = 0};
        CHECK(sx_steer_setup(&sp, m, mdl, &g3, &st, &err) == 0, "steer setup: %s", err.msg);
        CHECK(g3.n_hooks == 2 && g3.logits_fn != NULL && st.ban.n_ban >= 2, "two hooks and a logits filter (%d ids)", st.ban.n_ban);
        int32_t *o3[1];
        int l3[1];
        CHECK(sx_generate(m, pr, pl, 1, &g3, o3, l3, &err) == 0 && l3[0] == 6, "steered generation: %s", err.msg);
        free(o3[0]);
        sx_steer_cleanup(&st);
        sx_steer_spec bad = {.sae = sdir, .latents = "3,999", .tier = "suppress", .alpha = 1.0};
        CHECK(sx_steer_setup(&bad, m, mdl, &g3, &st, &err) != 0 && strstr(err.msg, "out of range"), "bad latent: %s", err.msg);
        sx_steer_cleanup(&st);
        sx_steer_spec bad2 = {.sae = sdir, .latents = "3", .tier = "loud"};
        CHECK(sx_steer_setup(&bad2, m, mdl, &g3, &st, &err) != 0, "bad tier: %s", err.msg);
        sx_steer_cleanup(&st);
    }
    /* banned ids from a word list */
    int *ban = NULL, nb = 0;
    CHECK(sx_banned_ids(tok, NULL, &ban, &nb, &err) == 0 && nb > 40, "built-in ban list -> %d ids", nb);
    free(ban);
    sx_sae_free(&sae);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return TEST_DONE();
}
