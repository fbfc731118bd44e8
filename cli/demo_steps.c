/* demo_steps.c — the demo's steps 1-6 and 9, each a call of the library function behind the
 * subcommand it stands for (the equivalent command line is printed first, so a user can rerun
 * any step by hand).  The model and tokenizer are loaded once. */
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "sae.h"
#include "datasets.h"
#include "demo.h"
#include "export.h"
#include "steering.h"
#include "trainer.h"

void demo_show_cmd(const char *name, ...) {
    fprintf(stderr, "  $ saetox %s", name);
    va_list ap;
    va_start(ap, name);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) fprintf(stderr, " %s", a);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

int demo_load_model(demo_ctx *c, sx_err *err) {
    if (sx_model_load(c->model_dir, &c->m, err)) return -1;
    if (sx_tokenizer_load(c->model_dir, &c->tok, err)) {
        sx_model_free(c->m);
        c->m = NULL;
        return -1;
    }
    const sx_model_config *cfg = sx_model_cfg(c->m);
    c->d_model = cfg->d_model;
    c->n_layers = cfg->n_layers;
    c->ctx = cfg->n_ctx < 128 ? cfg->n_ctx : 128;
    /* the middle of the residual stream, as the paper's GPT-2 Small layer 6 of 12 */
    snprintf(c->hook, sizeof c->hook, "blocks.%d.hook_resid_pre", cfg->n_layers / 2);
    snprintf(c->ctx_s, sizeof c->ctx_s, "%d", c->ctx);
    int w1 = 8 * cfg->d_model, w2 = 32 * cfg->d_model;
    snprintf(c->widths_s, sizeof c->widths_s, "%d,%d", w1, w2);
    snprintf(c->name_narrow, sizeof c->name_narrow, "topk-%d", w1);
    snprintf(c->name_wide, sizeof c->name_wide, "topk-%d", w2);
    snprintf(c->sae_narrow, sizeof c->sae_narrow, "%s/%s", c->out, c->name_narrow);
    snprintf(c->sae_wide, sizeof c->sae_wide, "%s/%s", c->out, c->name_wide);
    demo_matryoshka_paths(c);
    c->mat_top = -1;
    return 0;
}

void demo_free_model(demo_ctx *c) {
    sx_tokenizer_free(c->tok);
    sx_model_free(c->m);
    c->tok = NULL, c->m = NULL;
}

int demo_samples(demo_ctx *c, sx_err *err) {
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/data", c->out);
    snprintf(path, sizeof path, "%s/samples.txt", dir);
    if (sx_mkdir_p(dir, err)) return -1;
    sx_sample_opts o = {.tokens = c->sample_tokens, .new_tokens = c->ctx - 1, .seed = (uint64_t)c->seed, .batch = 64};
    int64_t n_seqs = 0;
    if (sx_sample_documents(c->m, c->tok, &o, path, &n_seqs, err)) return -1;
    fprintf(stderr, "      %lld sequences of %d tokens -> %s\n", (long long)n_seqs, o.new_tokens, path);
    return 0;
}

int demo_cache(demo_ctx *c, const char *src, const char *acts, sx_err *err) {
    char rows_s[32];
    snprintf(rows_s, sizeof rows_s, "%lld", (long long)c->sample_tokens);
    demo_show_cmd("cache", "--model", c->model_dir, "--data", src, "--hook", c->hook, "--context-size", c->ctx_s,
                  "--tokens", rows_s, "--out", acts, "--prepend-bos", "--drop-first", "1", "--batch", "16",
                  "--threads", c->threads, NULL);
    char part[4200];
    sx_cache_partial_path(acts, part, sizeof part);
    if (sx_file_exists(part))
        fprintf(stderr, "saetox cache: note: starting %s afresh (--resume would continue it)\n", part);
    char mdir[4096];
    snprintf(mdir, sizeof mdir, "%s", c->model_dir);
    for (size_t l = strlen(mdir); l > 1 && mdir[l - 1] == '/'; l--) mdir[l - 1] = 0;
    sx_cache_job J = {.data = src, .hook = c->hook, .out = acts, .model_name = basename(mdir),
                      .tokens = c->sample_tokens, .batch = 16, .drop_first = 1, .progress = 1,
                      .src = {.max_entry_bytes = (uint64_t)2048 << 20},
                      .pack = {.context_size = c->ctx, .prepend_bos = 1, .bos_id = -1, .separator_id = -2}};
    sx_cache_result res;
    if (sx_cache_run(c->m, c->tok, &J, &res, err)) return -1;
    if (res.note[0]) fprintf(stderr, "saetox cache: %s\n", res.note);
    if (res.exhausted)
        fprintf(stderr, "saetox cache: %s: the data ran out after %lld of %lld tokens\n", src, (long long)res.rows,
                (long long)J.tokens);
    if (res.bad_records)
        fprintf(stderr, "saetox cache: skipped %lld bad records (first: %s)\n", (long long)res.bad_records,
                res.first_bad);
    printf("wrote %s: %lld rows x %d (%s, %s), %.0f tokens/s\n", acts, (long long)res.rows, c->d_model, c->hook,
           "float32", res.seconds > 0 ? (double)res.fresh_rows / res.seconds : 0.0);
    return 0;
}

int demo_train(demo_ctx *c, const char *acts, sx_err *err) {
    char seed_s[32], tokens_s[32];
    snprintf(seed_s, sizeof seed_s, "%lld", (long long)c->seed);
    snprintf(tokens_s, sizeof tokens_s, "%lld", (long long)(c->sample_tokens * c->epochs));
    char lr_s[32];
    snprintf(lr_s, sizeof lr_s, "%g", DEMO_SAE_LR);
    demo_show_cmd("train", "--cache", acts, "--arch", "topk", "--widths", c->widths_s, "--k", "16", "--batch", "1024",
                  "--tokens", tokens_s, "--lr", lr_s, "--seed", seed_s, "--out", c->out, "--log-every", "20", "--threads",
                  c->threads, NULL);
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = SX_SAE_TOPK;
    o.n_widths = 2, o.widths[0] = 8 * c->d_model, o.widths[1] = 32 * c->d_model;
    o.out_dir = c->out;
    return demo_train_sae(c, acts, &o, err);
}

int demo_train_sae(demo_ctx *c, const char *acts, sx_train_opts *o, sx_err *err) {
    o->n_k = 1, o->ks[0] = 16;
    o->batch = 1024, o->tokens = c->sample_tokens * c->epochs, o->seed = (uint64_t)c->seed, o->lr = DEMO_SAE_LR;
    o->log_every = 20, o->progress = 1;
    sx_cache_info info;
    if (sx_cache_info_read(acts, &info, err)) return -1;
    if (info.hook_name[0]) o->hook_name = info.hook_name;
    if (info.model[0]) o->model_name = info.model;
    const char *paths[1] = {acts};
    return sx_train_caches(o, paths, 1, err);
}

int demo_eval(demo_ctx *c, const char *eval_dir, sx_err *err) {
    /* Held-out text from the training distribution: more samples of the model under another
     * seed (the training text is the model's samples plus the contrast sets). */
    char heldout[4200], src[4300], tok_s[32], seed_s[32];
    snprintf(heldout, sizeof heldout, "%s/data/heldout.txt", c->out);
    int64_t n_eval = c->sample_tokens / 8;
    if (n_eval > 8192) n_eval = 8192;
    if (n_eval < 1024) n_eval = 1024;
    sx_sample_opts so = {.tokens = n_eval, .new_tokens = c->ctx - 1, .seed = (uint64_t)c->seed + 1000, .batch = 64};
    if (sx_sample_documents(c->m, c->tok, &so, heldout, NULL, err)) return -1;
    snprintf(src, sizeof src, "text:%s", heldout);
    snprintf(tok_s, sizeof tok_s, "%lld", (long long)n_eval);
    snprintf(seed_s, sizeof seed_s, "%lld", (long long)c->seed + 1000);
    fprintf(stderr, "      held-out text: %s (samples with seed %s)\n", heldout, seed_s);
    demo_show_cmd("eval-sae", "--model", c->model_dir, "--sae", c->sae_narrow, "--sae", c->sae_wide, "--sae", c->sae_mat, "--data", src,
                  "--context-size", c->ctx_s, "--tokens", tok_s, "--prepend-bos", "--out", eval_dir, "--threads",
                  c->threads, NULL);
    sx_sae saes[3];
    memset(saes, 0, sizeof saes);
    const char *names[3] = {c->sae_narrow, c->sae_wide, c->sae_mat};
    const int ns = 3;
    int n = 0, rc = -1;
    for (; n < ns; n++)
        if (sx_sae_load(names[n], &saes[n], err)) goto done;
    const sx_sae *sp[3] = {&saes[0], &saes[1], &saes[2]};
    sx_sae_eval_opts o = {.saes = (const struct sx_sae *const *)sp, .names = names, .n_saes = ns,
                          .model_name = c->model_dir, .data = src, .tokens = n_eval, .batch = 8, .progress = 1,
                          .src = {.max_entry_bytes = (uint64_t)2048 << 20},
                          .pack = {.context_size = c->ctx, .prepend_bos = 1, .bos_id = -1, .separator_id = -2}};
    sx_sae_eval_row rows[3];
    sx_sae_eval_info info;
    if (sx_sae_eval_run(c->m, c->tok, &o, rows, &info, err) || sx_sae_eval_write(eval_dir, rows, ns, err)) goto done;
    for (int i = 0; i < ns; i++)
        printf("%s: ce_loss_score %.4f, kl_div_score %.4f, fvu %.4f, l0 %.1f, dead %.3f (%lld held-out tokens)\n",
               rows[i].sae, rows[i].ce_loss_score, rows[i].kl_div_score, rows[i].fvu, rows[i].l0, rows[i].dead_frac,
               (long long)info.n_tokens);
    rc = 0;
done:
    for (int i = 0; i < n; i++) sx_sae_free(&saes[i]);
    return rc;
}

int demo_split(demo_ctx *c, const char *analysis, sx_err *err) {
    demo_show_cmd("analyze", "split", "--sae", c->sae_narrow, "--sae", c->sae_wide, "--name", c->name_narrow, "--name",
                  c->name_wide, "--threshold", DEMO_SPLIT_THRESHOLD, "--out", analysis, "--threads", c->threads, NULL);
    sx_split_run_opts o = {0};
    o.sae_a = c->sae_narrow, o.sae_b = c->sae_wide, o.label_a = c->name_narrow, o.label_b = c->name_wide;
    sx_split_opts_default(&o.split);
    o.split.threshold = (float)atof(DEMO_SPLIT_THRESHOLD);
    o.cut = 0.3, o.max_linkage_nodes = 8192;
    o.out_dir = analysis, o.verbose = 1;
    return sx_ana_split_run(&o, err);
}

int demo_toxic(demo_ctx *c, const char *analysis, sx_err *err) {
    /* analysis reads datasets' source syntax; the sweep takes plain .txt/.jsonl/.csv paths */
    char toxic_src[4200], clean_src[4200];
    snprintf(toxic_src, sizeof toxic_src, "text:%s/toxic.txt", c->data_dir);
    snprintf(clean_src, sizeof clean_src, "text:%s/clean.txt", c->data_dir);
    demo_show_cmd("analyze", "toxic", "--model", c->model_dir, "--sae", c->sae_narrow, "--sae", c->sae_wide, "--name",
                  c->name_narrow, "--name", c->name_wide, "--toxic", toxic_src, "--clean", clean_src, "--families",
                  analysis, "--rank-by", "cohens_d", "--out", analysis, "--threads", c->threads, "--quiet", NULL);
    const char *saes[2] = {c->sae_narrow, c->sae_wide}, *names[2] = {c->name_narrow, c->name_wide};
    sx_toxic_run_opts o;
    sx_toxic_run_opts_default(&o);
    o.model_dir = c->model_dir;
    o.saes = saes, o.n_saes = 2, o.labels = names;
    o.toxic_spec = toxic_src, o.clean_spec = clean_src;
    o.families_dir = analysis, o.rank_by = SX_RANK_COHENS_D, o.policy = SX_POLICY_MAX;
    o.out_dir = analysis, o.verbose = 0;
    return sx_ana_toxic_run(&o, err);
}

int demo_stats(demo_ctx *c, const char *acts, const char *analysis, sx_err *err) {
    const char *names[2] = {c->name_narrow, c->name_wide};
    const char *saes[2] = {c->sae_narrow, c->sae_wide};
    char dirs[2][4200], stats[2][8500], ctxs[2][8500];
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/stats-%s", c->out, names[i]);
        demo_show_cmd("analyze", "stats", "--sae", saes[i], "--cache", acts, "--tokenizer", c->model_dir, "--tokens",
                      "60000", "--top-n", "8", "--name", names[i], "--out", dirs[i], "--threads", c->threads,
                      "--quiet", NULL);
        sx_stats_run_opts o;
        sx_stats_run_opts_default(&o);
        o.sae = saes[i], o.label = names[i], o.cache = acts, o.tokenizer_dir = c->model_dir;
        o.tokens = 60000, o.top_n = 8, o.out_dir = dirs[i], o.verbose = 0;
        if (sx_ana_stats_run(&o, err)) return -1;
        snprintf(stats[i], sizeof stats[i], "%s/latent_stats.csv", dirs[i]);
        snprintf(ctxs[i], sizeof ctxs[i], "%s/top_contexts.csv", dirs[i]);
    }
    char dst[4300];
    snprintf(dst, sizeof dst, "%s/latent_stats.csv", analysis);
    if (sx_ana_concat_csv((const char *const[]){stats[0], stats[1]}, 2, dst, err)) return -1;
    snprintf(dst, sizeof dst, "%s/top_contexts.csv", analysis);
    return sx_ana_concat_csv((const char *const[]){ctxs[0], ctxs[1]}, 2, dst, err);
}

int demo_export(demo_ctx *c, const char *report, sx_err *err) {
    demo_show_cmd("export", "--in", c->out, "--out", report, "--quiet", NULL);
    sx_export_opts o = {.max_contexts = 8, .max_latents = 64};
    static sx_export_notes notes;
    int rc = sx_export_run(c->out, report, &o, &notes, err);
    sx_export_release_caches();
    if (rc)
        for (int i = 0; i < notes.n; i++) fprintf(stderr, "export: %s\n", notes.msg[i]);
    return rc;
}
