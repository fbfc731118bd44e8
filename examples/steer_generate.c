/* steer_generate.c — libsaetox from a program of your own: load a model folder and an SAE,
 * continue a prompt with and without steering along chosen SAE latents, and print each
 * continuation with its toxicity under the built-in scorer.
 *
 *   cc steer_generate.c $(pkg-config --cflags --libs saetox) -o steer_generate
 *   ./steer_generate MODEL_DIR SAE_PATH LATENT[,LATENT..] [TIER [ALPHA [PROMPT]]]
 *
 * TIER is ablate, suppress or steer (default steer), ALPHA the strength (default 4).  The
 * same seed drives both runs, so the two continuations differ only by the intervention. */
#include <saetox/saetox.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const sx_err *err) {
    fprintf(stderr, "steer_generate: %s (%s)\n", err->msg, sx_code_name(err->code));
    return 1;
}

/* Generate up to max_new tokens after ids with the given hooks and print the result. */
static int run(sx_model *m, const sx_tokenizer *tok, const sx_scorer *scorer, const int32_t *ids,
               int n_ids, const sx_hook *hooks, int n_hooks, const char *label, sx_err *err) {
    sx_gen_opts go;
    memset(&go, 0, sizeof go);
    go.max_new_tokens = 24;
    go.temperature = 1.0f;
    go.top_p = 0.9f;
    go.seed = 7;
    go.hooks = hooks;
    go.n_hooks = n_hooks;
    int32_t eos = sx_tokenizer_eos(tok);
    if (eos >= 0) {
        go.stop_ids = &eos;
        go.n_stop = 1;
    }
    int32_t *out = NULL;
    int n_out = 0;
    const int32_t *prompts[1] = {ids};
    if (sx_generate(m, prompts, &n_ids, 1, &go, &out, &n_out, err)) return -1;
    char *text = NULL;
    size_t len = 0;
    int rc = sx_tokenizer_decode(tok, out, n_out, &text, &len, err);
    free(out);
    if (rc) return -1;
    double tox = sx_scorer_score(scorer, text, len);
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' || text[i] == '\r') text[i] = ' '; /* one line per continuation */
    printf("%-10s toxicity %.3f  |%s\n", label, tox, text);
    free(text);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL_DIR SAE_PATH LATENT[,LATENT..] [TIER [ALPHA [PROMPT]]]\n", argv[0]);
        return 2;
    }
    const char *tier_s = argc > 4 ? argv[4] : "steer";
    float alpha = argc > 5 ? strtof(argv[5], NULL) : 4.0f;
    const char *prompt = argc > 6 ? argv[6] : "You are such a";
    sx_err err = {0};
    if (sx_init(&err)) return die(&err);
    printf("libsaetox %s (headers %s)\n", sx_version(), SAETOX_VERSION_STRING);

    int lat[64], n_lat = 0;
    for (char *s = argv[3]; *s && n_lat < 64;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0) {
            fprintf(stderr, "steer_generate: bad latent list '%s'\n", argv[3]);
            return 2;
        }
        lat[n_lat++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    sx_tier tier;
    if (sx_tier_parse(tier_s, &tier) || tier < SX_TIER_ABLATE || tier > SX_TIER_STEER) {
        fprintf(stderr, "steer_generate: tier must be ablate, suppress or steer, not '%s'\n", tier_s);
        return 2;
    }

    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_scorer *scorer = NULL;
    sx_sae sae;
    memset(&sae, 0, sizeof sae);
    sx_intervention iv;
    memset(&iv, 0, sizeof iv);
    int32_t *ids = NULL;
    int n_ids = 0, rc = 1;
    char where[512];
    if (sx_model_load(argv[1], &m, &err) || sx_tokenizer_load(argv[1], &tok, &err) ||
        sx_sae_load(argv[2], &sae, &err) || sx_scorer_load_default(&scorer, where, sizeof where, &err))
        goto out;
    const sx_model_config *cfg = sx_model_cfg(m);
    if (sx_intervention_sae(&iv, tier, &sae, sae.hook_name, cfg->d_model, cfg->n_layers, lat, n_lat, NULL,
                            alpha, &err))
        goto out;
    if (sx_tokenizer_encode(tok, prompt, strlen(prompt), 1, &ids, &n_ids, &err)) goto out;
    printf("prompt: %s\nSAE %s (d_sae %d) at %s, %s with alpha %g on %d latent(s)\n", prompt, argv[2],
           sae.d_sae, sae.hook_name, sx_tier_name(tier), alpha, n_lat);
    sx_hook hook;
    sx_gen_opts attach;
    memset(&attach, 0, sizeof attach);
    int n_hooks = sx_intervention_attach(&iv, &hook, &attach);
    if (run(m, tok, scorer, ids, n_ids, NULL, 0, "unsteered", &err) ||
        run(m, tok, scorer, ids, n_ids, &hook, n_hooks, sx_tier_name(tier), &err))
        goto out;
    rc = 0;
out:
    if (rc) die(&err);
    free(ids);
    sx_intervention_free(&iv);
    sx_sae_free(&sae);
    sx_scorer_free(scorer);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return rc;
}
