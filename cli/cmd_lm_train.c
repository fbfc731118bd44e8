/* cmd_lm_train.c — `saetox lm-train`: train a small GPT-2 from scratch on text (llm.c
 * style, models/lmtrain.h) and write a Hugging Face GPT-2 folder that `sx_model_load` reads.
 *
 * Batches are windows of T+1 tokens at offsets drawn from sx_rng_stream(seed, step), so a
 * run resumed from a checkpoint sees exactly the batches of an uninterrupted run; with the
 * same thread count the result is the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sx_json.h"
#include "lmtrain.h"

#define CMD "lm-train"

/* Options that must not change across a resume; stored in the checkpoint. */
typedef struct run_opts {
    int64_t steps, batch, warmup, seed, step; /* step: steps done (the only mutable field) */
    double lr, lr_min, wd, beta1, beta2, clip, init_std;
    uint64_t data_hash; /* sx_lm_tokens.hash: the same tokens in the same train/val/held-out split */
    uint64_t init_hash; /* FNV-1a of the --init-from weights as loaded; 0: random init */
} run_opts;

typedef struct run {
    run_opts o;
    sx_lm *m;
    sx_lm_tokens tok;
    int T;
    double holdout; /* --holdout-split */
    int32_t *in, *tgt;
    FILE *metrics;
} run;

static int fail(const char *msg) {
    cli_error(CMD, msg);
    return 1;
}

static void fill_batch(run *r, int64_t step) {
    sx_rng g;
    sx_rng_stream(&g, (uint64_t)r->o.seed ^ 0x5eed1a7a11ULL, (uint64_t)step);
    int T = r->T;
    uint64_t span = (uint64_t)(r->tok.n_train - T - 1);
    for (int b = 0; b < r->o.batch; b++) {
        int64_t off = (int64_t)sx_rng_below(&g, span + 1);
        for (int t = 0; t < T; t++) {
            r->in[b * T + t] = r->tok.train[off + t];
            r->tgt[b * T + t] = r->tok.train[off + t + 1];
        }
    }
}

/* Mean loss over consecutive windows of a token stream (at most max_tokens). */
static double eval_stream(run *r, const uint16_t *tok, int64_t n_tok, int64_t max_tokens,
                          sx_err *err) {
    int T = r->T, B = (int)r->o.batch;
    int64_t nwin = (n_tok - 1) / T;
    if (max_tokens > 0 && nwin > max_tokens / T) nwin = max_tokens / T;
    if (nwin < 1) return NAN;
    double tot = 0;
    int64_t done = 0;
    while (done < nwin) {
        int nb = nwin - done < B ? (int)(nwin - done) : B;
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < T; t++) {
                int64_t p = (done + b) * T + t;
                r->in[b * T + t] = tok[p];
                r->tgt[b * T + t] = tok[p + 1];
            }
        double l = sx_lm_loss(r->m, r->in, r->tgt, nb, T, err);
        if (isnan(l)) return NAN;
        tot += l * nb;
        done += nb;
    }
    return tot / nwin;
}

static double eval_val(run *r, int64_t max_tokens, sx_err *err) {
    return eval_stream(r, r->tok.val, r->tok.n_val, max_tokens, err);
}

/* Mean loss over n_tok tokens of training windows at fixed random offsets (a stream of the
 * seed that batches never use). */
static double eval_train(run *r, int64_t n_tok, sx_err *err) {
    int T = r->T, B = (int)r->o.batch;
    int64_t nwin = n_tok / T > 0 ? n_tok / T : 1, done = 0;
    sx_rng g;
    sx_rng_stream(&g, (uint64_t)r->o.seed ^ 0x7a17e7a1ULL, 0);
    double tot = 0;
    while (done < nwin) {
        int nb = nwin - done < B ? (int)(nwin - done) : B;
        for (int b = 0; b < nb; b++) {
            int64_t off = (int64_t)sx_rng_below(&g, (uint64_t)(r->tok.n_train - T - 1) + 1);
            for (int t = 0; t < T; t++) {
                r->in[b * T + t] = r->tok.train[off + t];
                r->tgt[b * T + t] = r->tok.train[off + t + 1];
            }
        }
        double l = sx_lm_loss(r->m, r->in, r->tgt, nb, T, err);
        if (isnan(l)) return NAN;
        tot += l * nb;
        done += nb;
    }
    return tot / nwin;
}

/* Cross-entropy of the validation tokens under the add-one-smoothed training unigram. */
static double unigram_baseline(const sx_lm_tokens *t, int V) {
    double *c = calloc((size_t)V, sizeof(double)), s = 0;
    if (!c || t->n_val == 0) {
        free(c);
        return NAN;
    }
    for (int64_t i = 0; i < t->n_train; i++) c[t->train[i]] += 1;
    double den = (double)t->n_train + V;
    for (int64_t i = 0; i < t->n_val; i++) s -= log((c[t->val[i]] + 1) / den);
    free(c);
    return s / (double)t->n_val;
}

static int export_all(run *r, const char *out, const char *ckpt, sx_dtype dt, const char *tok_dir,
                      sx_err *err) {
    if (sx_lm_ckpt_save(r->m, ckpt, &r->o, sizeof r->o, err)) return -1;
    return sx_lm_save_hf(r->m, out, dt, tok_dir, err);
}

static void log_metrics(run *r, int64_t step, double train, double val, double lr, double tps,
                        double gn) {
    if (!r->metrics) return;
    fprintf(r->metrics, "{\"step\":%lld,\"tokens\":%lld,\"train_loss\":%.6f", (long long)step,
            (long long)(step * r->o.batch * r->T), train);
    if (!isnan(val)) fprintf(r->metrics, ",\"val_loss\":%.6f", val);
    fprintf(r->metrics, ",\"lr\":%.6g,\"grad_norm\":%.5g,\"tokens_per_s\":%.1f}\n", lr, gn, tps);
    fflush(r->metrics);
}

/* Final losses over all validation tokens and a random sample of training windows, with the
 * unigram baseline, to RUN_DIR/summary.json (and stderr). */
static int write_summary(run *r, const char *spath, int64_t eval_tokens, double last_train,
                         sx_err *err) {
    double t0 = sx_now();
    /* a validation or held-out set shorter than one window (e.g. --val-frac 0) has no loss */
    int has_val = r->tok.n_val > r->T, has_held = r->tok.n_held > r->T;
    double vl = has_val ? eval_val(r, 0, err) : NAN;
    int64_t ntr = eval_tokens > 0 ? eval_tokens : 16384;
    double tl = eval_train(r, ntr, err), ub = unigram_baseline(&r->tok, r->m->cfg.vocab);
    double hl = has_held ? eval_stream(r, r->tok.held, r->tok.n_held, 0, err) : NAN;
    if ((has_val && isnan(vl)) || isnan(tl) || (has_held && isnan(hl)))
        return sx_fail_prefix(err, "final evaluation");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "steps_done", (double)r->o.step);
    cJSON_AddNumberToObject(j, "steps_planned", (double)r->o.steps);
    cJSON_AddNumberToObject(j, "tokens_seen", (double)(r->o.step * r->o.batch * r->T));
    cJSON_AddNumberToObject(j, "train_tokens", (double)r->tok.n_train);
    cJSON_AddNumberToObject(j, "val_tokens", (double)r->tok.n_val);
    cJSON_AddNumberToObject(j, "train_docs", (double)r->tok.docs_train);
    cJSON_AddNumberToObject(j, "val_docs", (double)r->tok.docs_val);
    if (!isnan(last_train)) cJSON_AddNumberToObject(j, "last_logged_train_loss", last_train);
    cJSON_AddNumberToObject(j, "train_loss", tl);
    cJSON_AddNumberToObject(j, "train_loss_tokens", (double)(ntr / r->T * r->T));
    if (has_val) {
        cJSON_AddNumberToObject(j, "val_loss", vl);
        cJSON_AddNumberToObject(j, "unigram_val_loss", ub);
    }
    cJSON_AddNumberToObject(j, "holdout_split", r->holdout);
    cJSON_AddNumberToObject(j, "heldout_tokens", (double)r->tok.n_held);
    cJSON_AddNumberToObject(j, "heldout_docs", (double)r->tok.docs_held);
    if (!isnan(hl)) cJSON_AddNumberToObject(j, "heldout_loss", hl);
    cJSON_AddNumberToObject(j, "n_params", (double)r->m->n_params);
    cJSON_AddNumberToObject(j, "seed", (double)r->o.seed);
    cJSON_AddBoolToObject(j, "init_from_weights", r->o.init_hash != 0);
    cJSON_AddNumberToObject(j, "threads", sx_get_threads());
    int rc = sx_json_write_file(spath, j, err);
    cJSON_Delete(j);
    fprintf(stderr, "saetox %s: step %lld: train loss %.4f (%lld sampled tokens), val loss %.4f "
                    "(all %lld tokens), unigram baseline %.4f (%.1fs)\n",
            CMD, (long long)r->o.step, tl, (long long)ntr, vl, (long long)r->tok.n_val, ub,
            sx_now() - t0);
    if (!isnan(hl))
        fprintf(stderr, "saetox %s: held-out loss %.4f (%lld tokens of %lld documents)\n", CMD, hl,
                (long long)r->tok.n_held, (long long)r->tok.docs_held);
    return rc;
}

static uint64_t params_hash(const sx_lm *m) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)m->params;
    for (size_t i = 0; i < m->n_params * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h | 1; /* never 0, which means "random init" */
}

static sx_dtype parse_dtype(const char *s) {
    if (!strcmp(s, "bf16") || !strcmp(s, "BF16")) return SX_BF16;
    if (!strcmp(s, "f16") || !strcmp(s, "F16")) return SX_F16;
    if (!strcmp(s, "f32") || !strcmp(s, "F32")) return SX_F32;
    return SX_DT_INVALID;
}

int cmd_lm_train(int argc, char **argv) {
    cli_strlist data = {{0}, 0}, split_data = {{0}, 0};
    const char *out = NULL, *tok_dir = NULL, *run_dir = NULL, *dtype_s = "bf16", *init_from = NULL;
    int64_t layers = 4, d = 128, heads = 4, ctx = 128, batch = 16, steps = 1000, warmup = 50;
    int64_t seed = 1, eval_every = 100, eval_tokens = 65536, ckpt_every = 100, threads = 0,
            stop_at = -1;
    double lr = 2e-3, lr_min_frac = 0.1, wd = 0.1, beta1 = 0.9, beta2 = 0.95, clip = 1.0,
           val_frac = 0.05, init_std = 0.02, holdout = 0;
    int resume = 0, unescape = 0, final_eval = 0;
    cli_opt opts[] = {
        {"data", CLI_STRLIST, &data, "SPEC", "text source, repeatable: FILE.txt (documents split at blank lines), FILE.jsonl#FIELD[+FIELD..] (dotted paths), FILE.csv#COLUMN, or any SOURCE (jsonl:F#field, csv:F#col, text:F, archives; a document per record; datasets/README.md); --data or --split-data is needed", 0, 0},
        {"tokenizer", CLI_STR, &tok_dir, "DIR", "GPT-2 tokenizer folder (encoder.json + vocab.bpe); its files are copied to --out", 1, 0},
        {"out", CLI_STR, &out, "DIR", "Hugging Face GPT-2 folder to write (config.json, model.safetensors, tokenizer)", 1, 0},
        {"run-dir", CLI_STR, &run_dir, "DIR", "checkpoint, token cache, metrics.jsonl, summary.json (default: --out)", 0, 0},
        {"layers", CLI_INT, &layers, "N", "transformer blocks (default 4)", 0, 0},
        {"d-model", CLI_INT, &d, "N", "residual width n_embd (default 128)", 0, 0},
        {"heads", CLI_INT, &heads, "N", "attention heads (default 4)", 0, 0},
        {"ctx", CLI_INT, &ctx, "N", "context length = n_positions = training window (default 128)", 0, 0},
        {"batch", CLI_INT, &batch, "N", "sequences per step (default 16)", 0, 0},
        {"steps", CLI_INT, &steps, "N", "optimizer steps (default 1000)", 0, 0},
        {"lr", CLI_DBL, &lr, "X", "peak learning rate (default 2e-3)", 0, 0},
        {"lr-min-frac", CLI_DBL, &lr_min_frac, "X", "final lr as a fraction of the peak (default 0.1)", 0, 0},
        {"warmup", CLI_INT, &warmup, "N", "linear warm-up steps before the cosine decay (default 50)", 0, 0},
        {"weight-decay", CLI_DBL, &wd, "X", "AdamW decoupled weight decay on matrices (default 0.1)", 0, 0},
        {"beta1", CLI_DBL, &beta1, "X", "AdamW beta1 (default 0.9)", 0, 0},
        {"beta2", CLI_DBL, &beta2, "X", "AdamW beta2 (default 0.95)", 0, 0},
        {"clip", CLI_DBL, &clip, "X", "clip gradients to this global L2 norm; 0 = off (default 1)", 0, 0},
        {"init-from", CLI_STR, &init_from, "DIR", "start from the weights of this GPT-2 folder (same shape, e.g. an earlier --out, or fewer --layers, or half the --d-model with the same head width: the model grows, new blocks interleaved with output projections at zero, new channels as twins of the old, so it starts as the folder's function) instead of a random init; AdamW moments start at zero", 0, 0},
        {"init-std", CLI_DBL, &init_std, "X", "initial weight std (default 0.02)", 0, 0},
        {"seed", CLI_INT, &seed, "S", "seed for init, batches and the validation split (default 1)", 0, 0},
        {"val-frac", CLI_DBL, &val_frac, "X", "share of documents held out for validation (default 0.05)", 0, 0},
        {"split-data", CLI_STRLIST, &split_data, "SPEC", "a source as --data (repeatable) whose PATH.jsonl#F1+.. records are split by --holdout-split", 0, 0},
        {"holdout-split", CLI_DBL, &holdout, "F", "keep out of training and validation every --split-data record whose first field (e.g. an RTP prompt.text) is on the evaluation side of `saetox study --split F`; their loss is summary.json's heldout_loss (default 0: none)", 0, 0},
        {"eval-every", CLI_INT, &eval_every, "N", "validation loss every N steps (default 100)", 0, 0},
        {"eval-tokens", CLI_INT, &eval_tokens, "N", "validation tokens per evaluation; 0 = all (default 65536); the final evaluation uses all", 0, 0},
        {"ckpt-every", CLI_INT, &ckpt_every, "N", "checkpoint (and export) every N steps (default 100)", 0, 0},
        {"resume", CLI_FLAG, &resume, NULL, "continue from RUN_DIR/checkpoint.bin when it exists", 0, 0},
        {"final-eval", CLI_FLAG, &final_eval, NULL, "with --resume: train no further; evaluate the checkpoint into RUN_DIR/summary.json", 0, 0},
        {"stop-at", CLI_INT, &stop_at, "N", "stop after step N (checkpoint kept; resume later)", 0, 0},
        {"dtype", CLI_STR, &dtype_s, "T", "weights dtype of the export: bf16|f16|f32 (default bf16)", 0, 0},
        {"unescape-html", CLI_FLAG, &unescape, NULL, "decode HTML entities (&amp; ...) in the text", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all); results are reproducible for a fixed count", 0, 0},
    };
    int prc = cli_parse(CMD, "Train a small GPT-2 from scratch and write a Hugging Face folder.", opts,
                        (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (prc) return prc == 1 ? 0 : 2;
    sx_dtype dt = parse_dtype(dtype_s);
    if (dt == SX_DT_INVALID) {
        fprintf(stderr, "saetox %s: --dtype must be bf16, f16 or f32\n", CMD);
        return 2;
    }
    if (layers < 1 || d < 1 || heads < 1 || d % heads || ctx < 2 || batch < 1 || steps < 1 ||
        warmup < 0 || lr <= 0 || val_frac < 0 || val_frac >= 1 || eval_every < 1 || ckpt_every < 1 ||
        !(holdout >= 0 && holdout < 1)) {
        fprintf(stderr, "saetox %s: bad sizes (need d-model divisible by heads, ctx >= 2, "
                        "positive steps/batch/lr, 0 <= val-frac < 1, 0 <= holdout-split < 1)\n", CMD);
        return 2;
    }
    sx_set_threads((int)threads);
    if (!run_dir) run_dir = out;
    sx_err err = {0};
    char ckpt[4096], cache[4096], mpath[4096], spath[4096];
    if (sx_mkdir_p(run_dir, &err)) return fail(err.msg);
    if (sx_path_join(ckpt, sizeof ckpt, run_dir, "checkpoint.bin") ||
        sx_path_join(cache, sizeof cache, run_dir, "tokens.bin") ||
        sx_path_join(mpath, sizeof mpath, run_dir, "metrics.jsonl") ||
        sx_path_join(spath, sizeof spath, run_dir, "summary.json"))
        return fail("--run-dir: path too long");

    run r;
    memset(&r, 0, sizeof r);
    r.o = (run_opts){steps, batch, warmup, seed, 0, lr, lr * lr_min_frac, wd, beta1, beta2, clip, init_std, 0, 0};
    r.T = (int)ctx;
    r.holdout = holdout;
    double t0 = sx_now();
    const char *specs[2 * CLI_LIST_MAX];
    unsigned char split_of[2 * CLI_LIST_MAX];
    int n_specs = 0;
    for (int i = 0; i < data.n; i++) specs[n_specs] = data.v[i], split_of[n_specs++] = 0;
    for (int i = 0; i < split_data.n; i++) specs[n_specs] = split_data.v[i], split_of[n_specs++] = 1;
    if (!n_specs) return fail("no text: give --data or --split-data");
    if (split_data.n && !(holdout > 0)) return fail("--split-data needs --holdout-split F > 0");
    if (sx_lm_tokens_build(specs, split_of, n_specs, unescape, tok_dir, val_frac, holdout, (uint64_t)seed,
                           cache, &r.tok, &err))
        return fail(err.msg);
    fprintf(stderr, "saetox %s: %lld train tokens (%lld docs), %lld validation tokens (%lld docs), "
                    "%lld held-out tokens (%lld docs), %.1fs\n",
            CMD, (long long)r.tok.n_train, (long long)r.tok.docs_train, (long long)r.tok.n_val,
            (long long)r.tok.docs_val, (long long)r.tok.n_held, (long long)r.tok.docs_held, sx_now() - t0);
    r.o.data_hash = r.tok.hash;
    int rc = 1;
    if (r.tok.n_train < ctx + 2) {
        fail("not enough training tokens for one window of --ctx");
        goto done;
    }
    sx_lm_cfg cfg = {50257, (int)ctx, (int)layers, (int)heads, (int)d};
    int maxid = 0;
    for (int64_t i = 0; i < r.tok.n_train; i++) maxid = r.tok.train[i] > maxid ? r.tok.train[i] : maxid;
    if (maxid >= cfg.vocab) cfg.vocab = maxid + 1;
    if (init_from) { /* loaded now for its hash, which a resumed run must match */
        if (sx_lm_new(&cfg, &r.m, &err) ||
            (sx_lm_init(r.m, (uint64_t)seed, (float)init_std), sx_lm_load_hf(r.m, init_from, &err))) {
            fprintf(stderr, "saetox %s: --init-from %s: %s\n", CMD, init_from, err.msg);
            goto done;
        }
        r.o.init_hash = params_hash(r.m);
    }
    if (resume && sx_file_exists(ckpt)) {
        sx_lm_free(r.m);
        r.m = NULL;
        run_opts saved;
        if (sx_lm_ckpt_load(ckpt, &r.m, &saved, sizeof saved, &err)) {
            fail(err.msg);
            goto done;
        }
        run_opts cur = r.o;
        cur.step = saved.step;
        if (saved.data_hash != cur.data_hash) {
            fprintf(stderr, "saetox %s: %s: trained on other tokens (the data, --split-data, "
                            "--holdout-split, --val-frac, --seed or tokenizer differ)\n", CMD, ckpt);
            goto done;
        }
        if (memcmp(&cur, &saved, sizeof cur) || memcmp(&r.m->cfg, &cfg, sizeof cfg)) {
            fprintf(stderr, "saetox %s: %s: made with other model or training options (or --init-from weights)\n", CMD, ckpt);
            goto done;
        }
        r.o = saved;
        fprintf(stderr, "saetox %s: resuming at step %lld\n", CMD, (long long)r.o.step);
    } else if (!init_from) {
        if (sx_lm_new(&cfg, &r.m, &err)) {
            fail(err.msg);
            goto done;
        }
        sx_lm_init(r.m, (uint64_t)seed, (float)init_std);
    }
    r.in = malloc(sizeof(int32_t) * batch * ctx);
    r.tgt = malloc(sizeof(int32_t) * batch * ctx);
    r.metrics = fopen(mpath, r.o.step ? "a" : "w");
    if (!r.in || !r.tgt || !r.metrics) {
        fail(!r.metrics ? "cannot write metrics.jsonl in --run-dir" : "out of memory");
        goto done;
    }
    fprintf(stderr, "saetox %s: %zu parameters, %lld steps of %lld x %d tokens, %d threads\n", CMD,
            r.m->n_params, (long long)steps, (long long)batch, r.T, sx_get_threads());

    sx_adamw aw = {(float)beta1, (float)beta2, 1e-8f, (float)wd};
    sx_progress pb;
    sx_progress_start(&pb, CMD, (double)steps, "step");
    double tl_sum = 0, tick = sx_now(), last_train = NAN;
    int tl_n = 0;
    int64_t tick_step = r.o.step;
    if (final_eval && !(resume && sx_file_exists(ckpt))) {
        fail("--final-eval needs --resume and a checkpoint in --run-dir");
        goto done;
    }
    while (r.o.step < steps && !final_eval) {
        int64_t s = r.o.step;
        fill_batch(&r, s);
        sx_lm_zero_grad(r.m);
        double loss = sx_lm_grad(r.m, r.in, r.tgt, (int)batch, r.T, 1.0f, &err);
        if (!isfinite(loss)) {
            fail(isnan(loss) && err.msg[0] ? err.msg : "training diverged (non-finite loss)");
            goto done;
        }
        double gn = sx_lm_grad_norm(r.m);
        float scale = clip > 0 && gn > clip ? (float)(clip / gn) : 1.0f;
        float lr_s = sx_lm_lr(s, steps, warmup, (float)lr, (float)(lr * lr_min_frac));
        sx_lm_adamw(r.m, &aw, lr_s, scale);
        r.o.step = s + 1;
        tl_sum += loss;
        tl_n++;
        sx_progress_update(&pb, (double)r.o.step);
        int last = r.o.step == steps || r.o.step == stop_at;
        if (r.o.step % eval_every == 0 || last) {
            double now = sx_now(), tps = (double)(r.o.step - tick_step) * batch * r.T / (now - tick);
            err.code = SX_OK, err.msg[0] = 0;
            double vl = eval_val(&r, eval_tokens, &err); /* NaN alone: a set shorter than a window */
            if (err.code != SX_OK) {
                fail(err.msg);
                goto done;
            }
            last_train = tl_sum / tl_n;
            log_metrics(&r, r.o.step, last_train, vl, lr_s, tps, gn);
            fprintf(stderr, "step %lld/%lld train %.4f val %.4f lr %.3g %.0f tok/s\n",
                    (long long)r.o.step, (long long)steps, last_train, vl, lr_s, tps);
            tl_sum = 0;
            tl_n = 0;
            tick = sx_now();
            tick_step = r.o.step;
        }
        if (r.o.step % ckpt_every == 0 || last) {
            if (export_all(&r, out, ckpt, dt, tok_dir, &err)) {
                fail(err.msg);
                goto done;
            }
        }
        if (r.o.step == stop_at) break;
    }
    sx_progress_finish(&pb);
    if (r.o.step == steps || final_eval) {
        if (write_summary(&r, spath, eval_tokens, last_train, &err)) {
            fail(err.msg);
            goto done;
        }
    }
    rc = 0;
done:
    if (r.metrics) fclose(r.metrics);
    free(r.in);
    free(r.tgt);
    sx_lm_free(r.m);
    sx_lm_tokens_free(&r.tok);
    return rc;
}
