/* cmd_train.c — `saetox train`: SAEs of several widths (and k or sparsity values) trained in
 * one pass over HDF5 activation caches. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "datasets.h"
#include "models.h"
#include "sx_mpi.h"
#include "tokenizer.h"
#include "train_internal.h"
#include "trainer.h"

static int usage_err(const char *msg) {
    cli_error("train", msg);
    return 2;
}

static int parse_int_list(const char *s, int *out, int max) {
    int64_t v[64];
    int n = cli_parse_int_list(s, v, max < 64 ? max : 64);
    for (int i = 0; i < n; i++) {
        if (v[i] > (1 << 28) || v[i] < -(1 << 28)) return -1;
        out[i] = (int)v[i];
    }
    return n;
}

/* --eval-model: the options of the held-out text and the model it runs through. */
typedef struct eval_model {
    const char *dir, *data;
    int64_t context_size, tokens, batch;
    int prepend_bos;
    sx_model *m;
    sx_tokenizer *tok;
} eval_model;

/* Before training: the model and tokenizer load, the cache's hook is in the model and its
 * d_in is the model's d_model (so a misfit fails with one line and writes nothing). */
static int eval_model_check(eval_model *em, const sx_cache_info *info, const char *cache, sx_err *err) {
    if (sx_model_load(em->dir, &em->m, err) || sx_tokenizer_load(em->dir, &em->tok, err)) return -1;
    const sx_model_config *c = sx_model_cfg(em->m);
    if (!info->hook_name[0])
        return sx_failc(err, SX_EINVAL, "%s: the cache records no hook_name, so --eval-model %s does not know where to splice the SAEs",
                        cache, em->dir);
    int layer;
    sx_hook_point pt;
    sx_err e2 = {0};
    if (sx_hook_parse(info->hook_name, &layer, &pt, &e2))
        return sx_failc(err, SX_EINVAL, "%s: hook %s: %s", cache, info->hook_name, e2.msg);
    if (layer >= c->n_layers)
        return sx_failc(err, SX_EINVAL, "--eval-model %s: the cache's hook %s is not in the model, which has %d layers (0..%d)",
                        em->dir, info->hook_name, c->n_layers, c->n_layers - 1);
    if (info->d_in != c->d_model)
        return sx_failc(err, SX_EINVAL, "--eval-model %s: d_model %d differs from the cache's d_in %d (%s)", em->dir,
                        c->d_model, info->d_in, cache);
    if (em->context_size > c->n_ctx)
        return sx_failc(err, SX_EINVAL, "--eval-model %s: --eval-context-size %lld exceeds the model's context of %d",
                        em->dir, (long long)em->context_size, c->n_ctx);
    return 0;
}

/* After training: every saved SAE spliced into the model on the held-out text
 * (sx_sae_eval_run, exactly as `saetox eval-sae`); OUT/sae_eval.csv + .jsonl. */
static int eval_model_run(eval_model *em, const sx_train_opts *o, double *ce, double *kl, sx_err *err) {
    int n = sx_train_n_saes(o), n_loaded = 0, rc = -1;
    sx_sae *saes = calloc((size_t)n, sizeof *saes);
    const sx_sae **sp = calloc((size_t)n, sizeof *sp);
    sx_sae_eval_row *rows = calloc((size_t)n, sizeof *rows);
    char(*names)[4200] = calloc((size_t)n, sizeof *names);
    const char **np = calloc((size_t)n, sizeof *np);
    if (!saes || !sp || !rows || !names || !np) {
        sx_failc(err, SX_ENOMEM, "train: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++, n_loaded++) {
        char nm[64];
        sx_train_sae_name(o, i, nm, sizeof nm);
        snprintf(names[i], sizeof names[i], "%s/%s", o->out_dir, nm);
        np[i] = names[i];
        if (sx_sae_load(names[i], &saes[i], err)) goto done;
        sp[i] = &saes[i];
    }
    sx_sae_eval_opts eo = {
        .saes = (const struct sx_sae *const *)sp, .names = np, .n_saes = n, .model_name = em->dir,
        .data = em->data, .tokens = em->tokens, .batch = (int)em->batch, .progress = o->progress,
        .src = {.max_entry_bytes = (uint64_t)2048 << 20},
        .pack = {.context_size = (int)em->context_size, .prepend_bos = em->prepend_bos, .bos_id = -1,
                 .separator_id = -2, .pad_id = 0}};
    sx_sae_eval_info info;
    if (sx_sae_eval_run(em->m, em->tok, &eo, rows, &info, err) || sx_sae_eval_write(o->out_dir, rows, n, err))
        goto done;
    if (info.exhausted)
        fprintf(stderr, "saetox train: --eval-data %s ran out after %lld of %lld tokens\n", em->data,
                (long long)info.n_tokens, (long long)em->tokens);
    for (int i = 0; i < n; i++) {
        ce[i] = rows[i].ce_loss_score, kl[i] = rows[i].kl_div_score;
        printf("%s: ce_loss_score %.4f, kl_div_score %.4f, fvu %.4f, l0 %.1f, dead %.3f (%lld held-out tokens through %s)\n",
               rows[i].sae, rows[i].ce_loss_score, rows[i].kl_div_score, rows[i].fvu, rows[i].l0, rows[i].dead_frac,
               (long long)rows[i].n_tokens, em->dir);
    }
    rc = 0;
done:
    for (int i = 0; i < n_loaded; i++) sx_sae_free(&saes[i]);
    free(saes), free(sp), free(rows), free(names), free(np);
    return rc;
}

int cmd_train(int argc, char **argv) {
    const char *cache = NULL, *arch = NULL, *widths = NULL, *ks = NULL, *l1 = NULL, *out = NULL,
               *nan = "stop", *eval = NULL, *groups = NULL, *parallel = NULL;
    int64_t batch = 4096, tokens = 0, seed = 0, threads = 0, ck_every = 0, log_every = 50,
            dead = 0, aux_k = 0, stop_after = 0;
    double lr = 0, clip = 0, jr_eps = 0.001, jr_thr = 0.001, aux_coef = NAN, lr_decay = NAN;
    int resume = 0, normalize = 0, no_normalize = 0, quiet = 0, dense_adam = 0;
    const char *bdec = "mean";
    eval_model em = {.context_size = 0, .tokens = 16384, .batch = 4};
    cli_opt opts[] = {
        {"cache", CLI_STR, &cache, "F.h5[,G.h5..]", "activation caches (HDF5 with /activations [N,d_in])", 1, 0},
        {"arch", CLI_STR, &arch, "ARCH", "relu | topk | batchtopk | jumprelu | matryoshka (Matryoshka BatchTopK) | gated", 1, 0},
        {"widths", CLI_STR, &widths, "W1,W2..", "SAE widths (d_sae), all trained in one pass", 1, 0},
        {"k", CLI_STR, &ks, "K[,K2..]", "active latents per row for topk / batchtopk / matryoshka (default 32)", 0, 0},
        {"groups", CLI_STR, &groups, "W1,W2..", "matryoshka: nested prefix widths, strictly increasing, ending at the width (e.g. 1024,4096)", 0, 0},
        {"l1", CLI_STR, &l1, "X[,Y..]", "sparsity coefficient(s) for relu / jumprelu / gated (default 5*sqrt(d_in/768) / 0.01*d_in / sqrt(d_in/768))", 0, 0},
        {"batch", CLI_INT, &batch, "B", "rows per step (default 4096)", 0, 0},
        {"tokens", CLI_INT, &tokens, "N", "training rows in total (steps = N / B)", 1, 0},
        {"seed", CLI_INT, &seed, "S", "seed (initialisation and data order; default 0)", 0, 0},
        {"out", CLI_STR, &out, "DIR", "output folder: DIR/<arch>-<width>/, DIR/metrics.jsonl, DIR/checkpoint/", 1, 0},
        {"lr", CLI_DBL, &lr, "LR", "learning rate (default 2e-4*sqrt(16384/width), clamped to [5e-5,4e-3])", 0, 0},
        {"lr-decay", CLI_DBL, &lr_decay, "F", "linear LR decay to 0 over the last fraction F of the steps (default 0.2; 0 = constant after warm-up)", 0, 0},
        {"b-dec-init", CLI_STR, &bdec, "mean|median", "b_dec starts at the first batch's mean (default) or geometric median", 0, 0},
        {"dense-adam", CLI_FLAG, &dense_adam, NULL, "topk/batchtopk/matryoshka: Adam-update every latent every step (default: lazy, only latents with a gradient)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all; results are exact for a fixed count)", 0, 0},
        {"checkpoint-every", CLI_INT, &ck_every, "STEPS", "write DIR/checkpoint/ every STEPS steps", 0, 0},
        {"resume", CLI_FLAG, &resume, NULL, "continue from DIR/checkpoint/ (same options)", 0, 0},
        {"nan-policy", CLI_STR, &nan, "stop|skip", "a batch with NaN/Inf: stop with an error (default) or skip it", 0, 0},
        {"normalize", CLI_FLAG, &normalize, NULL, "scale inputs to mean norm sqrt(d_in) (default for relu/jumprelu/gated)", 0, 0},
        {"no-normalize", CLI_FLAG, &no_normalize, NULL, "do not scale inputs (default for topk/batchtopk/matryoshka)", 0, 0},
        {"eval-cache", CLI_STR, &eval, "F.h5", "held-out cache: final mse/fvu/l0 per SAE into DIR/eval.jsonl", 0, 0},
        {"eval-model", CLI_STR, &em.dir, "DIR", "model folder: each SAE spliced in at the cache's hook on --eval-data; "
                                                 "ce_loss_score, kl_div_score into DIR/sae_eval.csv/.jsonl (as eval-sae) and eval.jsonl", 0, 0},
        {"eval-data", CLI_STR, &em.data, "SOURCE", "held-out text for --eval-model (source syntax as `saetox cache`)", 0, 0},
        {"eval-context-size", CLI_INT, &em.context_size, "C", "context window of --eval-data (default: the cache's context_size)", 0, 0},
        {"eval-tokens", CLI_INT, &em.tokens, "N", "positions of --eval-data to evaluate (default 16384)", 0, 0},
        {"eval-prepend-bos", CLI_FLAG, &em.prepend_bos, NULL, "start every --eval-data window with BOS (as `cache --prepend-bos`)", 0, 0},
        {"log-every", CLI_INT, &log_every, "STEPS", "metrics line every STEPS steps (default 50)", 0, 0},
        {"grad-clip", CLI_DBL, &clip, "X", "clip each SAE's gradient norm to X (default off)", 0, 0},
        {"dead-tokens", CLI_INT, &dead, "N", "a latent is dead after N tokens without firing (default min(1e7, tokens/8))", 0, 0},
        {"aux-k", CLI_INT, &aux_k, "K", "AuxK latents (default d_in/2)", 0, 0},
        {"aux-coef", CLI_DBL, &aux_coef, "X", "AuxK coefficient (default 1/32, of the AuxK term normalised as OpenAI do; 0 turns AuxK off)", 0, 0},
        {"stop-after", CLI_INT, &stop_after, "STEPS", "write a checkpoint and stop after STEPS steps (to test --resume)", 0, 0},
        {"jumprelu-eps", CLI_DBL, &jr_eps, "EPS", "JumpReLU STE kernel width (default 0.001)", 0, 0},
        {"jumprelu-init-threshold", CLI_DBL, &jr_thr, "T", "JumpReLU initial threshold (default 0.001)", 0, 0},
        {"quiet", CLI_FLAG, &quiet, NULL, "no progress bar", 0, 0},
        {"parallel", CLI_STR, &parallel, "data|latents", "under mpirun / srun: split each batch over the ranks (data) "
                                                         "or each SAE's latents (latents); rank 0 writes", 0, 0},
    };
    int rc = cli_parse("train", "Train sparse autoencoders on activation caches.", opts,
                       (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    sx_train_opts o;
    sx_train_opts_default(&o);
    if (strcmp(arch, "relu") == 0 || strcmp(arch, "standard") == 0) o.arch = SX_SAE_STANDARD;
    else if (strcmp(arch, "topk") == 0) o.arch = SX_SAE_TOPK;
    else if (strcmp(arch, "batchtopk") == 0) o.arch = SX_SAE_BATCHTOPK;
    else if (strcmp(arch, "jumprelu") == 0) o.arch = SX_SAE_JUMPRELU;
    else if (strcmp(arch, "matryoshka") == 0 || strcmp(arch, "matryoshka_batchtopk") == 0) o.arch = SX_SAE_MATRYOSHKA;
    else if (strcmp(arch, "gated") == 0) o.arch = SX_SAE_GATED;
    else return usage_err("--arch must be relu, topk, batchtopk, jumprelu, matryoshka or gated");
    o.n_widths = parse_int_list(widths, o.widths, SX_TRAIN_MAX_SAES);
    if (o.n_widths <= 0) return usage_err("--widths expects a comma-separated list of integers");
    if (ks) {
        if (o.arch != SX_SAE_TOPK && o.arch != SX_SAE_BATCHTOPK && o.arch != SX_SAE_MATRYOSHKA)
            return usage_err("--k applies to topk, batchtopk and matryoshka");
        o.n_k = parse_int_list(ks, o.ks, 8);
        if (o.n_k <= 0) return usage_err("--k expects a comma-separated list of integers");
    }
    if (l1) {
        if (o.arch != SX_SAE_STANDARD && o.arch != SX_SAE_JUMPRELU && o.arch != SX_SAE_GATED)
            return usage_err("--l1 applies to relu, jumprelu and gated");
        o.n_l1 = cli_parse_dbl_list(l1, o.l1s, 8);
        if (o.n_l1 <= 0) return usage_err("--l1 expects a comma-separated list of numbers");
    }
    if (groups) {
        if (o.arch != SX_SAE_MATRYOSHKA) return usage_err("--groups applies to matryoshka");
        o.n_groups = parse_int_list(groups, o.groups, SX_SAE_MAX_GROUPS);
        if (o.n_groups <= 0) return usage_err("--groups expects a comma-separated list of at most 16 integers");
    } else if (o.arch == SX_SAE_MATRYOSHKA) {
        return usage_err("--arch matryoshka needs --groups W1,..,WIDTH");
    }
    for (int g = 0; g < o.n_groups; g++)
        if (o.groups[g] <= 0 || (g > 0 && o.groups[g] <= o.groups[g - 1]))
            return usage_err("--groups must be positive and strictly increasing");
    for (int w = 0; w < o.n_widths; w++)
        if (o.n_groups > 0 && o.groups[o.n_groups - 1] != o.widths[w])
            return usage_err("--groups must end at the width (one --widths value for matryoshka)");
    if (strcmp(nan, "stop") == 0) o.nan_policy = SX_NAN_STOP;
    else if (strcmp(nan, "skip") == 0) o.nan_policy = SX_NAN_SKIP;
    else return usage_err("--nan-policy must be stop or skip");
    if (normalize && no_normalize) return usage_err("--normalize and --no-normalize exclude each other");
    if (normalize) o.normalize = 1;
    if (no_normalize) o.normalize = 0;
    if (!(jr_eps > 0) || !(jr_thr > 0)) return usage_err("--jumprelu-eps and --jumprelu-init-threshold must be positive");
    o.jumprelu_eps = jr_eps, o.jumprelu_init_threshold = jr_thr;
    if (threads < 0 || ck_every < 0 || log_every < 0 || dead < 0 || aux_k < 0 || stop_after < 0 || lr < 0 || clip < 0)
        return usage_err("numeric options must not be negative");
    o.batch = batch, o.tokens = tokens, o.seed = (uint64_t)seed, o.lr = lr, o.grad_clip = clip;
    o.checkpoint_every = ck_every, o.resume = resume, o.log_every = (int)log_every;
    if (!isnan(aux_coef)) {
        if (!(aux_coef >= 0) || !isfinite(aux_coef)) return usage_err("--aux-coef must be a number >= 0");
        o.aux_coef = aux_coef;
    }
    if (!isnan(lr_decay)) {
        if (!(lr_decay >= 0 && lr_decay <= 1)) return usage_err("--lr-decay must be a fraction in [0, 1]");
        o.lr_decay_frac = lr_decay;
    }
    o.dense_adam = dense_adam;
    if (strcmp(bdec, "mean") == 0) o.b_dec_init = 0;
    else if (strcmp(bdec, "median") == 0 || strcmp(bdec, "geometric_median") == 0) o.b_dec_init = 1;
    else return usage_err("--b-dec-init must be mean or median");
    o.dead_tokens = dead, o.aux_k = (int)aux_k, o.stop_after_steps = stop_after;
    o.out_dir = out, o.progress = !quiet;
    if (!em.dir != !em.data) return usage_err("--eval-model and --eval-data go together");
    if (em.dir && (em.tokens <= 0 || em.context_size < 0 || em.context_size == 1))
        return usage_err("--eval-tokens must be positive and --eval-context-size at least 2");
    sx_set_threads((int)threads);
    if (parallel && strcmp(parallel, "data") == 0) sx_train_set_parallel(SX_PAR_DATA);
    else if (parallel && strcmp(parallel, "latents") == 0) sx_train_set_parallel(SX_PAR_LATENTS);
    else if (parallel) return usage_err("--parallel must be data or latents");
    const int rank0 = sx_mpi_rank() == 0; /* under mpirun only rank 0 evaluates and writes */

    /* caches: comma-separated; hook/model names from the first one's attributes */
    char *list = strdup(cache);
    const char *paths[64];
    int np = 0;
    for (char *tok = strtok(list, ","); tok && np < 64; tok = strtok(NULL, ",")) paths[np++] = tok;
    sx_err err = {0};
    sx_cache_info info;
    rc = 0;
    if (np == 0) rc = sx_failc(&err, SX_EINVAL, "--cache: no file given");
    if (!rc && sx_cache_info_read(paths[0], &info, &err) == 0) {
        if (info.hook_name[0]) o.hook_name = info.hook_name;
        if (info.model[0]) o.model_name = info.model;
    } else if (!rc) {
        rc = -1;
    }
    if (!rc && em.dir && !em.context_size) {
        em.context_size = info.context_size;
        if (em.context_size < 2)
            rc = sx_failc(&err, SX_EINVAL, "%s: the cache records no context_size: give --eval-context-size", paths[0]);
    }
    if (!rc && em.dir && rank0) rc = eval_model_check(&em, &info, paths[0], &err);
    if (sx_mpi_size() > 1) rc = sx_mpi_check(rc, &err); /* every rank learns of a failed check */
    if (!rc) rc = sx_train_caches(&o, paths, np, &err);
    double ce[SX_TRAIN_MAX_SAES * 8], kl[SX_TRAIN_MAX_SAES * 8];
    if (!rc && em.dir && rank0) rc = eval_model_run(&em, &o, ce, kl, &err);
    if (!rc && eval && rank0) rc = sx_train_eval_scores(&o, eval, em.dir ? ce : NULL, em.dir ? kl : NULL, &err);
    free(list);
    sx_tokenizer_free(em.tok);
    sx_model_free(em.m);
    if (rc) {
        cli_error("train", err.msg);
        return 1;
    }
    return 0;
}
