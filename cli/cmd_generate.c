/* cmd_generate.c — `saetox generate`: KV-cached generation from a text prompt or token ids.
 * Prints the decoded text (prompt + continuation); with --print-ids the LAST line holds only
 * the generated ids, comma-separated.
 *
 * Steering: the model API takes nothing but residual hooks (sx_hook) and a logits callback
 * (sx_logits_fn).  Steering options are added in the two places marked "STEERING" below:
 * extra cli_opt entries, and steering_setup(), which turns them into hooks / a logits_fn on
 * the sx_gen_opts before sx_generate runs (and steering_cleanup() after it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models.h"
#include "tokenizer.h"

#define CMD "generate"

typedef struct gen_args {
    const char *model, *prompt, *ids;
    int64_t max_new, top_k, seed, threads;
    double temperature, top_p;
    int greedy, print_ids, stop_at_eos;
} gen_args;

/* ---- STEERING (1/2): steering state and option values live here ---- */
/* (steering block, owned by the steering module: options are forwarded to
 * sx_steer_setup() in steering/generate_setup.c) */
#include "steering.h"
typedef struct steering_args {
    sx_steer_spec spec;          /* --sae --latents --tier --alpha --scales --hook
                                    --meandiff-vector --ban-words */
    const char *const *model_dir; /* &a.model: the tokenizer for --ban-words */
} steering_args;
static sx_steer_state g_steer; /* one generation per process */

/* ---- STEERING (2/2): build hooks / logits_fn from the steering options.  Fill
 * go->hooks, go->n_hooks, go->logits_fn, go->logits_user; return -1 with err set on a bad
 * option.  Called after the model is loaded, before sx_generate. ---- */
static int steering_setup(const steering_args *sa, sx_model *m, sx_gen_opts *go, sx_err *err) {
    const sx_steer_spec *sp = &sa->spec;
    if (!sp->sae && !sp->latents && !sp->tier && !sp->meandiff && !sp->ban_words) return 0;
    if (sx_steer_setup(sp, m, sa->model_dir ? *sa->model_dir : ".", go, &g_steer, err)) {
        sx_steer_cleanup(&g_steer);
        return -1;
    }
    return 0;
}
static void steering_cleanup(const steering_args *sa, sx_gen_opts *go) {
    (void)sa, (void)go;
    sx_steer_cleanup(&g_steer);
}

static int parse_ids(const char *s, int32_t **out, int *n, sx_err *err) {
    int max = (int)strlen(s) / 2 + 2;
    int64_t *v = malloc((size_t)max * sizeof *v);
    if (!v) return sx_failc(err, SX_ENOMEM, "out of memory");
    int k = cli_parse_int_list(s, v, max);
    if (k < 0) {
        free(v);
        return sx_failc(err, SX_EINVAL, "--ids: expected comma-separated integers, got '%s'", s);
    }
    if (k == 0) {
        free(v);
        return sx_failc(err, SX_EINVAL, "--ids: no token ids given");
    }
    *out = malloc((size_t)k * sizeof **out);
    for (int i = 0; *out && i < k; i++) (*out)[i] = v[i] < INT32_MIN || v[i] > INT32_MAX ? -1 : (int32_t)v[i];
    free(v);
    if (!*out) return sx_failc(err, SX_ENOMEM, "out of memory");
    *n = k;
    return 0;
}

static void print_ids(const int32_t *ids, int n) {
    for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", (int)ids[i]);
    printf("\n");
}

/* Text = decode(prompt ids without a tokenizer-added BOS, then the new ids). */
static int print_text(const sx_tokenizer *tok, const int32_t *prompt, int np, int skip_bos,
                      const int32_t *gen, int ng, sx_err *err) {
    if (!tok) { /* no tokenizer: show the ids instead of text */
        int32_t *all = malloc((size_t)(np + ng) * sizeof *all);
        if (!all) return sx_failc(err, SX_ENOMEM, "out of memory");
        memcpy(all, prompt, (size_t)np * sizeof *all);
        memcpy(all + np, gen, (size_t)ng * sizeof *all);
        print_ids(all, np + ng);
        free(all);
        return 0;
    }
    int s = skip_bos ? 1 : 0;
    int32_t *all = malloc((size_t)(np - s + ng + 1) * sizeof *all);
    if (!all) return sx_failc(err, SX_ENOMEM, "out of memory");
    memcpy(all, prompt + s, (size_t)(np - s) * sizeof *all);
    memcpy(all + np - s, gen, (size_t)ng * sizeof *all);
    char *text = NULL;
    size_t len = 0;
    int rc = sx_tokenizer_decode(tok, all, np - s + ng, &text, &len, err);
    free(all);
    if (rc) return -1;
    fwrite(text, 1, len, stdout);
    printf("\n");
    free(text);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    gen_args a = {.max_new = 20, .temperature = 1.0, .top_p = 1.0};
    steering_args sa = {.spec = {.alpha = 1.0}, .model_dir = &a.model}; /* STEERING */
    (void)sa;
    cli_opt opts[] = {
        {"model", CLI_STR, &a.model, "DIR", "Hugging Face model folder", 1, 0},
        {"prompt", CLI_STR, &a.prompt, "STR", "prompt text (needs the tokenizer files in DIR)", 0, 0},
        {"ids", CLI_STR, &a.ids, "IDS", "prompt token ids, comma-separated (instead of --prompt)", 0, 0},
        {"max-new-tokens", CLI_INT, &a.max_new, "N", "tokens to generate (default 20)", 0, 0},
        {"greedy", CLI_FLAG, &a.greedy, NULL, "greedy decoding (first index on ties)", 0, 0},
        {"temperature", CLI_DBL, &a.temperature, "T", "sampling temperature (default 1; <= 0 = greedy)", 0, 0},
        {"top-p", CLI_DBL, &a.top_p, "P", "nucleus sampling mass (default 1 = off)", 0, 0},
        {"top-k", CLI_INT, &a.top_k, "K", "keep the K most likely tokens (default 0 = off)", 0, 0},
        {"seed", CLI_INT, &a.seed, "S", "sampling seed (default 0)", 0, 0},
        {"stop-at-eos", CLI_FLAG, &a.stop_at_eos, NULL, "stop a sequence after the config's eos token", 0, 0},
        {"print-ids", CLI_FLAG, &a.print_ids, NULL, "print the generated ids as the last line", 0, 0},
        {"threads", CLI_INT, &a.threads, "N", "threads (default: all)", 0, 0},
        /* ---- STEERING: add steering cli_opt entries here (values into steering_args sa) ---- */
        {"sae", CLI_STR, &sa.spec.sae, "PATH", "steer with this SAE (SAELens folder or Gemma Scope params.npz)", 0, 0},
        {"latents", CLI_STR, &sa.spec.latents, "I,J", "SAE latents to act on", 0, 0},
        {"tier", CLI_STR, &sa.spec.tier, "TIER", "ablate | suppress | steer", 0, 0},
        {"alpha", CLI_DBL, &sa.spec.alpha, "X", "strength for suppress / steer / the mean-difference vector (default 1)", 0, 0},
        {"scales", CLI_STR, &sa.spec.scales, "FILE", "per-latent scales A_i (CSV latent + scale|q99|q90|max_act, or JSON; default 1)", 0, 0},
        {"hook", CLI_STR, &sa.spec.hook, "NAME", "hook for steering (default: the SAE's / vector's own)", 0, 0},
        {"meandiff-vector", CLI_STR, &sa.spec.meandiff, "F", "subtract alpha x this vector (safetensors 'meandiff', from evaluate)", 0, 0},
        {"ban-words", CLI_STR, &sa.spec.ban_words, "FILE", "ban the tokens of these words ('builtin' for the built-in list)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    int prc = cli_parse(CMD, "Generate a continuation of a prompt (KV cache; greedy or sampled).", opts, nopts,
                        argc, argv);
    if (prc) return prc == 1 ? 0 : 2;
    if (!a.prompt == !a.ids) {
        cli_error(CMD, "give exactly one of --prompt or --ids");
        return 2;
    }
    if (a.max_new < 0 || a.max_new > 1000000) {
        cli_error(CMD, "--max-new-tokens must be between 0 and 1000000");
        return 2;
    }
    if (a.top_p <= 0 || a.top_p > 1 || a.top_k < 0) {
        cli_error(CMD, "--top-p must be in (0, 1] and --top-k >= 0");
        return 2;
    }
    sx_set_threads((int)a.threads);
    sx_err err = {0};
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    int32_t *ids = NULL, *gen = NULL;
    int n = 0, ng = 0, rc = 1, skip_bos = 0;
    sx_gen_opts go = {0};
    if (a.ids && parse_ids(a.ids, &ids, &n, &err)) {
        fprintf(stderr, "saetox %s: %s\n", CMD, err.msg);
        return 2;
    }
    if (sx_model_load(a.model, &m, &err)) goto fail;
    if (a.prompt) {
        if (sx_tokenizer_load(a.model, &tok, &err)) goto fail;
        if (sx_tokenizer_encode(tok, a.prompt, strlen(a.prompt), 1, &ids, &n, &err)) goto fail;
        skip_bos = n > 0 && sx_tokenizer_adds_bos(tok) && ids[0] == sx_tokenizer_bos(tok);
        if (n == 0) {
            sx_failc(&err, SX_EINVAL, "--prompt: the prompt encodes to no tokens");
            goto fail;
        }
    } else {
        sx_err terr;
        if (sx_tokenizer_load(a.model, &tok, &terr)) tok = NULL; /* print ids instead of text */
    }
    int32_t eos = sx_model_cfg(m)->eos_id;
    go.max_new_tokens = (int)a.max_new;
    go.temperature = a.greedy ? 0.0f : (float)a.temperature;
    go.top_p = (float)a.top_p;
    go.top_k = (int)a.top_k;
    go.seed = (uint64_t)a.seed;
    if (a.stop_at_eos && eos >= 0) go.stop_ids = &eos, go.n_stop = 1;
    if (steering_setup(&sa, m, &go, &err)) goto fail;
    const int32_t *pp = ids;
    int grc = sx_generate(m, &pp, &n, 1, &go, &gen, &ng, &err);
    steering_cleanup(&sa, &go);
    if (grc) goto fail;
    if (print_text(tok, ids, n, skip_bos, gen, ng, &err)) goto fail;
    if (a.print_ids) print_ids(gen, ng);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "saetox %s: %s\n", CMD, err.msg[0] ? err.msg : "failed");
done:
    free(ids);
    free(gen);
    if (tok) sx_tokenizer_free(tok);
    sx_model_free(m);
    return rc;
}
