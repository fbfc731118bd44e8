/* cmd_model_dump.c — `saetox model-dump`: run a model on token ids and write the logits and
 * every residual hook (blocks.0.hook_resid_pre, blocks.{i}.hook_resid_post) as F32
 * safetensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models.h"

#define CMD "model-dump"

typedef struct dump_ctx {
    float **bufs; /* [n_layers + 1]: resid_pre.0, then resid_post.i */
} dump_ctx;

static int grab(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err) {
    dump_ctx *dc = user;
    float *dst = dc->bufs[ctx->point == SX_HOOK_RESID_PRE ? 0 : ctx->layer + 1];
    memcpy(dst, x, (size_t)ctx->n_rows * ctx->d * sizeof(float));
    return 0;
}

int cmd_model_dump(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *out = NULL;
    int64_t threads = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model, "DIR", "Hugging Face model folder (config.json + safetensors)", 1, 0},
        {"ids", CLI_STR, &ids_s, "IDS", "comma-separated token ids, e.g. 464,3290,318", 1, 0},
        {"out", CLI_STR, &out, "FILE", "output .safetensors (logits and residual hooks, F32)", 1, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
    };
    int prc = cli_parse(CMD, "Run a model on token ids; dump logits [T,vocab], blocks.0.hook_resid_pre and "
                             "blocks.{i}.hook_resid_post [T,d] for every layer.",
                        opts, 4, argc, argv);
    if (prc) return prc == 1 ? 0 : 2;
    sx_set_threads((int)threads);
    int64_t *ids64 = malloc(1 << 20);
    int T = cli_parse_int_list(ids_s, ids64, (1 << 20) / 8);
    if (T < 0) {
        free(ids64);
        cli_error(CMD, "--ids: expected comma-separated integers");
        return 2;
    }
    if (T == 0) {
        free(ids64);
        cli_error(CMD, "--ids: no token ids given");
        return 2;
    }
    sx_err err = {0};
    sx_model *m = NULL;
    int rc = 1;
    float **bufs = NULL, *logits = NULL;
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    sx_st_writer *w = NULL;
    if (sx_model_load(model, &m, &err)) goto fail;
    const sx_model_config *c = sx_model_cfg(m);
    for (int i = 0; i < T; i++) {
        if (ids64[i] < 0 || ids64[i] >= c->vocab_size) {
            sx_failc(&err, SX_EINVAL, "%s: token id %lld at position %d is out of range: vocab_size is %d", model,
                    (long long)ids64[i], i, c->vocab_size);
            goto fail;
        }
        ids[i] = (int32_t)ids64[i];
    }
    int nb = c->n_layers + 1;
    bufs = calloc((size_t)nb, sizeof *bufs);
    logits = malloc((size_t)T * c->vocab_size * sizeof *logits);
    sx_hook *hooks = calloc((size_t)nb, sizeof *hooks);
    if (!bufs || !logits || !hooks) {
        free(hooks);
        sx_failc(&err, SX_ENOMEM, "out of memory");
        goto fail;
    }
    dump_ctx dc = {bufs};
    for (int i = 0; i < nb; i++) {
        bufs[i] = malloc((size_t)T * c->d_model * sizeof(float));
        hooks[i] = (sx_hook){i == 0 ? 0 : i - 1, i == 0 ? SX_HOOK_RESID_PRE : SX_HOOK_RESID_POST, grab, &dc};
        if (!bufs[i]) {
            free(hooks);
            sx_failc(&err, SX_ENOMEM, "out of memory");
            goto fail;
        }
    }
    sx_forward_opts fo = {hooks, nb, -1, 1};
    int frc = sx_forward(m, ids, &T, 1, &fo, logits, &err);
    free(hooks);
    if (frc) goto fail;
    w = sx_stw_new();
    int64_t shl[2] = {T, c->vocab_size}, shd[2] = {T, c->d_model};
    if (!w || sx_stw_add(w, "logits", SX_F32, 2, shl, logits, &err) ||
        sx_stw_add(w, "blocks.0.hook_resid_pre", SX_F32, 2, shd, bufs[0], &err))
        goto fail;
    for (int i = 0; i < c->n_layers; i++) {
        char name[64];
        snprintf(name, sizeof name, "blocks.%d.hook_resid_post", i);
        if (sx_stw_add(w, name, SX_F32, 2, shd, bufs[i + 1], &err)) goto fail;
    }
    if (sx_stw_meta(w, "model", model, &err) || sx_stw_write(w, out, &err)) goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "saetox %s: %s\n", CMD, err.msg[0] ? err.msg : "failed");
done:
    sx_stw_free(w);
    if (bufs && m)
        for (int i = 0; i <= sx_model_cfg(m)->n_layers; i++) free(bufs[i]);
    free(bufs);
    free(logits);
    free(ids);
    free(ids64);
    sx_model_free(m);
    return rc;
}
