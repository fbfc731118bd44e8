/* cmd_study.c — `saetox study` (issue 19): the paper's experiment over several SAE seeds, with a
 * findings table F1-F6 whose verdicts are computed from the mean and t interval across seeds
 * (analysis/findings.c; the rules are in README.md "The study").
 *
 *   data     selection texts (toxic / clean: the toxic latents, the steering scales and the
 *            mean-difference vector come from them) and evaluation prompts, made disjoint: with
 *            --split F a text belongs to the evaluation side when its hash says so
 *            (sx_text_is_holdout), and any evaluation prompt that is also a selection text is
 *            dropped; written to OUT/data/ so the run can be audited
 *   cache    one activation cache shared by every seed (model samples + the selection texts)
 *   seeds    per seed (study_run.c): its own SAEs, latents, splitting and sweeps
 *   tables   study_runs.csv, study_seeds.csv, then findings.csv / findings.md read back from them
 *
 * Everything is built in OUT.partial and renamed to OUT at the end; a failure removes it, so OUT
 * is either complete or absent. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "study.h"

static const char *SUMMARY =
    "The paper's experiment over several SAE seeds: one activation cache, then per seed TopK SAEs\n"
    "of two widths and a Matryoshka SAE, toxic latents chosen on the selection texts, splitting,\n"
    "and the steering sweep (tiers x strengths, baselines, fluency, benchmark) on disjoint prompts;\n"
    "then the findings F1-F6 with mean, 95% t interval across seeds and a verdict each.\n"
    "Writes OUT/study_runs.csv, OUT/study_seeds.csv, OUT/findings.csv and OUT/findings.md.\n"
    "--recompute DIR recomputes DIR's findings from its study_runs.csv and study_seeds.csv.";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}
static void rm_tree(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Strengths: positive, finite, strictly increasing (the sweep's path order). */
static int parse_alphas(const char *s, double *out, int max) {
    int n = cli_parse_dbl_list(s, out, max);
    for (int i = 0; i < n; i++)
        if (!(out[i] > 0) || !isfinite(out[i]) || (i && !(out[i] > out[i - 1]))) return -1;
    return n;
}

/* Strip newlines and tabs (one text per line in OUT/data). */
static void put_line(FILE *f, const char *t) {
    for (const char *p = t; *p; p++) fputc(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p, f);
    fputc('\n', f);
}

static int write_lines(const char *path, char *const *texts, int64_t n, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    for (int64_t i = 0; i < n; i++) put_line(af.f, texts[i]);
    return sx_atomic_commit(&af, err);
}

static int in_list(const sx_textlist *t, const char *s) {
    for (int64_t i = 0; i < t->n; i++)
        if (!strcmp(t->text[i], s)) return 1;
    return 0;
}

typedef struct {
    const char *sel_toxic, *sel_clean, *eval, *bench;
    double split;
    int64_t n_prompts;
} data_opts;

/* Keep the texts of t on the side `holdout` of the hash split (split 0: all). */
static void keep_side(sx_textlist *t, double split, int holdout) {
    if (!(split > 0)) return;
    int64_t k = 0;
    for (int64_t i = 0; i < t->n; i++) {
        if ((sx_text_is_holdout(t->text[i], split) != 0) == holdout) t->text[k++] = t->text[i];
        else free(t->text[i]);
    }
    t->n = k;
}

/* Selection texts and evaluation prompts into ROOT/data, made disjoint; then loaded into s. */
static int prepare_data(study_ctx *s, const data_opts *d, sx_err *err) {
    sx_textlist tox = {0}, cln = {0}, ev = {0};
    int rc = -1;
    char dir[4300], p[4400];
    snprintf(dir, sizeof dir, "%s/data", s->root);
    if (sx_mkdir_p(dir, err)) return -1;
    if (sx_textlist_load(d->sel_toxic, 0, &tox, err) || sx_textlist_load(d->sel_clean, 0, &cln, err) ||
        sx_textlist_load(d->eval, 0, &ev, err))
        goto done;
    keep_side(&tox, d->split, 0), keep_side(&cln, d->split, 0), keep_side(&ev, d->split, 1);
    int64_t k = 0, dropped = 0;
    for (int64_t i = 0; i < ev.n; i++) {
        if (in_list(&tox, ev.text[i]) || in_list(&cln, ev.text[i])) {
            free(ev.text[i]);
            dropped++;
            continue;
        }
        ev.text[k++] = ev.text[i];
    }
    ev.n = k;
    if (d->n_prompts > 0 && ev.n > d->n_prompts) {
        for (int64_t i = d->n_prompts; i < ev.n; i++) free(ev.text[i]);
        ev.n = d->n_prompts;
    }
    if (tox.n < 2 || cln.n < 2) {
        sx_failc(err, SX_EINVAL, "%s / %s: %lld toxic and %lld clean selection texts after the split (need 2 each)",
                 d->sel_toxic, d->sel_clean, (long long)tox.n, (long long)cln.n);
        goto done;
    }
    if (ev.n < 1) {
        sx_failc(err, SX_EINVAL, "%s: no evaluation prompt left after the split and the overlap check", d->eval);
        goto done;
    }
    fprintf(stderr, "saetox study: %lld toxic + %lld clean selection texts, %lld evaluation prompts (%lld dropped: "
                    "also selection texts)\n",
            (long long)tox.n, (long long)cln.n, (long long)ev.n, (long long)dropped);
    snprintf(p, sizeof p, "%s/toxic.txt", dir);
    if (write_lines(p, tox.text, tox.n, err)) goto done;
    snprintf(p, sizeof p, "%s/clean.txt", dir);
    if (write_lines(p, cln.text, cln.n, err)) goto done;
    snprintf(p, sizeof p, "%s/prompts.txt", dir);
    if (write_lines(p, ev.text, ev.n, err)) goto done;
    /* what the sweeps use is what is on disk */
    snprintf(p, sizeof p, "%s/prompts.txt", dir);
    if (sx_textlist_load(p, 0, &s->prompts, err)) goto done;
    snprintf(p, sizeof p, "%s/toxic.txt", dir);
    if (sx_textlist_load(p, 0, &s->toxic, err)) goto done;
    snprintf(p, sizeof p, "%s/clean.txt", dir);
    if (sx_textlist_load(p, 0, &s->clean, err)) goto done;
    if (sx_mc_load(d->bench, s->bench_items, &s->items, &s->n_items, err) ||
        sx_scorer_load_default(&s->scorer, NULL, 0, err) || sx_banned_ids(s->c.tok, NULL, &s->ban, &s->nban, err))
        goto done;
    rc = 0;
done:
    sx_textlist_free(&tox), sx_textlist_free(&cln), sx_textlist_free(&ev);
    return rc;
}

static int dir_empty_or_absent(const char *p) {
    struct stat st;
    if (stat(p, &st) != 0) return 1;
    if (!S_ISDIR(st.st_mode)) return 0;
    return rmdir(p) == 0; /* empty: removed, the rename puts the result there */
}

static void free_study(study_ctx *s) {
    sx_textlist_free(&s->prompts), sx_textlist_free(&s->toxic), sx_textlist_free(&s->clean);
    sx_mc_free(s->items, s->n_items);
    sx_scorer_free(s->scorer);
    free(s->ban);
    free(s->rows);
    demo_free_model(&s->c);
}

int cmd_study(int argc, char **argv) {
    static study_ctx S; /* large (per-seed strings); one per process */
    study_ctx *s = &S;
    memset(s, 0, sizeof *s);
    demo_ctx *c = &s->c;
    const char *out = NULL, *widths = NULL, *archs = "topk,matryoshka", *alphas = "1,2,4", *cache_data = NULL;
    const char *recompute = NULL;
    data_opts d = {0};
    int64_t seeds = 3, seed0 = 1, threads = 0;
    double budget = 1.25;
    int no_causal = 0;
    int64_t causal_m = 16, causal_verify = 4, causal_val = 20;
    double causal_alpha = 2;
    c->sample_tokens = 40000, c->samples = 5, c->epochs = 8;
    s->max_new_tokens = 20;
    cli_opt opts[] = {
        {"out", CLI_STR, &out, "DIR", "output folder (must not exist or be empty)", 0, 0},
        {"model", CLI_STR, &c->model_dir, "DIR", "model folder (default: the embedded tiny GPT-2)", 0, 0},
        {"seeds", CLI_INT, &seeds, "N", "SAE seeds (default 3)", 0, 0},
        {"seed0", CLI_INT, &seed0, "S", "first seed; the others follow (default 1)", 0, 0},
        {"widths", CLI_STR, &widths, "N1,N2", "narrow and wide SAE widths (default 8x and 32x d_model)", 0, 0},
        {"archs", CLI_STR, &archs, "LIST", "topk or topk,matryoshka (default both)", 0, 0},
        {"select-toxic", CLI_STR, &d.sel_toxic, "SPEC", "toxic selection texts, PATH[#field] (default datasets/demo/toxic.txt)", 0, 0},
        {"select-clean", CLI_STR, &d.sel_clean, "SPEC", "clean selection texts (default datasets/demo/clean.txt)", 0, 0},
        {"eval-prompts", CLI_STR, &d.eval, "SPEC", "evaluation prompts (default datasets/demo/prompts.txt)", 0, 0},
        {"split", CLI_DBL, &d.split, "F", "hash split: share of texts on the evaluation side (0: the files as given)", 0, 0},
        {"n-prompts", CLI_INT, &d.n_prompts, "P", "at most P evaluation prompts (default all)", 0, 0},
        {"samples", CLI_INT, &c->samples, "K", "continuations per prompt (default 5)", 0, 0},
        {"max-new-tokens", CLI_INT, &s->max_new_tokens, "T", "tokens per continuation (default 20)", 0, 0},
        {"alphas", CLI_STR, &alphas, "LIST", "steering strengths, increasing (default 1,2,4)", 0, 0},
        {"bench", CLI_STR, &d.bench, "PATH", "two-choice benchmark (JSONL or HellaSwag folder; default datasets/demo)", 0, 0},
        {"bench-items", CLI_INT, &s->bench_items, "N", "at most N benchmark items (default all)", 0, 0},
        {"cache-data", CLI_STR, &cache_data, "SRC", "text for the activation cache (default: model samples + selection texts)", 0, 0},
        {"sample-tokens", CLI_INT, &c->sample_tokens, "N", "cache rows (default 40000)", 0, 0},
        {"epochs", CLI_INT, &c->epochs, "E", "passes of SAE training over the cache (default 8)", 0, 0},
        {"budget", CLI_DBL, &budget, "R", "matched fluency: perplexity <= R x unsteered (default 1.25)", 0, 0},
        {"no-causal", CLI_FLAG, &no_causal, NULL, "skip the causal latent selection, its sweep and the cond tier", 0, 0},
        {"causal-m", CLI_INT, &causal_m, "M", "candidates for the causal selection: the top M by activation contrast (default 16, at most 16)", 0, 0},
        {"causal-verify", CLI_INT, &causal_verify, "K", "best-attributed candidates verified by steering, and the largest set tried (default 4)", 0, 0},
        {"causal-val", CLI_INT, &causal_val, "V", "validation prompts for it: toxic selection texts, never evaluation prompts (default 20)", 0, 0},
        {"causal-alpha", CLI_DBL, &causal_alpha, "A", "verification strength (tier steer, default 2)", 0, 0},
        {"cond-threshold", CLI_DBL, &s->cond_threshold, "T", "tier cond steers a position where some chosen latent fires above T x A_i (default 0)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
        {"recompute", CLI_STR, &recompute, "DIR", "only recompute DIR/findings.* from its tables", 0, 0},
    };
    int r = cli_parse("study", SUMMARY, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (r == 1) return 0;
    if (r) return 2;
    sx_study_spec spec;
    sx_study_spec_default(&spec);
    spec.budget = budget;
    if (!(budget >= 1) || !isfinite(budget)) return cli_error("study", "--budget must be >= 1"), 2;
    sx_err err = {0};
    if (recompute) {
        char hdr[4400];
        snprintf(hdr, sizeof hdr, "Recomputed from %s/study_runs.csv.", recompute);
        if (study_recompute(recompute, &spec, hdr, &err)) return cli_error("study", err.msg), 1;
        printf("wrote %s/findings.csv and %s/findings.md\n", recompute, recompute);
        return 0;
    }
    if (!out) return cli_error("study", "--out DIR is required"), 2;
    if (seeds < 1 || seeds > SX_STUDY_MAX_SEEDS) return cli_error("study", "--seeds must be in 1..64"), 2;
    if (c->samples < 1 || c->epochs < 1 || s->max_new_tokens < 1 || d.n_prompts < 0 || s->bench_items < 0)
        return cli_error("study", "--samples, --epochs, --max-new-tokens must be >= 1, --n-prompts, --bench-items >= 0"), 2;
    if (causal_m < 1 || causal_m > 16 || causal_verify < 1 || causal_verify > causal_m || causal_val < 1 ||
        !(causal_alpha > 0) || !isfinite(causal_alpha) || !(s->cond_threshold >= 0) || !isfinite(s->cond_threshold))
        return cli_error("study", "--causal-m must be in 1..16, --causal-verify in 1..M, --causal-val >= 1, "
                                  "--causal-alpha > 0, --cond-threshold >= 0"), 2;
    s->causal = !no_causal;
    s->causal_cfg = (demo_causal_cfg){(int)causal_m, (int)causal_verify, (int)causal_val, (int)c->samples,
                                      (int)s->max_new_tokens, causal_alpha, 0};
    if (c->sample_tokens < 1000) return cli_error("study", "--sample-tokens must be >= 1000"), 2;
    if (!(d.split >= 0 && d.split < 1)) return cli_error("study", "--split must be in [0, 1)"), 2;
    if ((s->n_alphas = parse_alphas(alphas, s->alphas, STUDY_MAX_ALPHAS)) < 1)
        return cli_error("study", "--alphas must be 1 to 8 increasing positive numbers, e.g. 1,2,4"), 2;
    snprintf(s->alphas_s, sizeof s->alphas_s, "%s", alphas);
    if (!strcmp(archs, "topk")) s->with_mat = 0;
    else if (!strcmp(archs, "topk,matryoshka") || !strcmp(archs, "matryoshka,topk")) s->with_mat = 1;
    else return cli_error("study", "--archs must be topk or topk,matryoshka (the findings need the TopK pair)"), 2;
    if (widths) {
        int64_t w[3];
        if (cli_parse_int_list(widths, w, 3) != 2 || w[0] < 2 || w[1] <= w[0] || w[1] > (1 << 20))
            return cli_error("study", "--widths must be two increasing widths N1,N2, e.g. 1024,4096"), 2;
        s->width_narrow = (int)w[0], s->width_wide = (int)w[1];
    }
    if (strlen(out) > 3700 || snprintf(s->root, sizeof s->root, "%s.partial", out) >= (int)sizeof s->root)
        return cli_error("study", "--out: path too long"), 2;
    if (!dir_empty_or_absent(out)) {
        fprintf(stderr, "saetox study: %s: exists and is not empty (choose another --out)\n", out);
        return 2;
    }
    if (sx_file_exists(s->root)) {
        fprintf(stderr, "saetox study: %s: left over from an interrupted run; remove it\n", s->root);
        return 2;
    }
    /* defaults: the embedded model and the demo data */
    const char *home = sx_data_dir();
    static char def[5][4300];
    if (!c->model_dir || !d.sel_toxic || !d.sel_clean || !d.eval || !d.bench) {
        if (!home) return cli_error("study", "saetox data folder not found: set SAETOX_HOME or give every data option"), 1;
        snprintf(def[0], sizeof def[0], "%s/models/embedded", home);
        snprintf(def[1], sizeof def[1], "%s/datasets/demo/toxic.txt", home);
        snprintf(def[2], sizeof def[2], "%s/datasets/demo/clean.txt", home);
        snprintf(def[3], sizeof def[3], "%s/datasets/demo/prompts.txt", home);
        snprintf(def[4], sizeof def[4], "%s/datasets/demo/benchmark.jsonl", home);
        if (!c->model_dir) c->model_dir = def[0];
        if (!d.sel_toxic) d.sel_toxic = def[1];
        if (!d.sel_clean) d.sel_clean = def[2];
        if (!d.eval) d.eval = def[3];
        if (!d.bench) d.bench = def[4];
    }
    sx_set_threads((int)threads);
    snprintf(c->threads, sizeof c->threads, "%d", sx_get_threads());
    double t0 = sx_now();
    c->t0 = t0;
    int rc = 1;
    c->out = s->root;
    if (sx_mkdir_p(s->root, &err) || demo_load_model(c, &err)) goto fail;
    if (!s->width_narrow) s->width_narrow = 8 * c->d_model, s->width_wide = 32 * c->d_model;
    snprintf(c->data_dir, sizeof c->data_dir, "%.3800s/data", s->root);
    if (prepare_data(s, &d, &err)) goto fail;

    /* the shared cache */
    char acts[4300], src[13000];
    snprintf(acts, sizeof acts, "%.3800s/activations.h5", s->root);
    if (cache_data) {
        snprintf(src, sizeof src, "%s", cache_data);
    } else {
        fprintf(stderr, "saetox study: sampling text from the model for the cache\n");
        if (demo_samples(c, &err)) goto fail;
        snprintf(src, sizeof src, "text:%s/samples.txt,text:%s/toxic.txt,text:%s/clean.txt", c->data_dir, c->data_dir,
                 c->data_dir);
    }
    if (demo_cache(c, src, acts, &err)) goto fail;

    for (int64_t k = 0; k < seeds; k++)
        if (study_seed(s, seed0 + k, acts, &err)) goto fail;

    char p[4400];
    snprintf(p, sizeof p, "%.3800s/study_runs.csv", s->root);
    if (study_write_runs(p, s->rows, s->n_rows, &err)) goto fail;
    snprintf(p, sizeof p, "%.3800s/study_seeds.csv", s->root);
    if (study_write_seeds(p, s, &err)) goto fail;
    char hdr[2048];
    snprintf(hdr, sizeof hdr,
             "Run: %lld seeds (%lld..%lld); SAEs topk-%d, topk-%d%s (k 16, %lld epochs over a %lld-row cache); "
             "%lld evaluation prompts x %lld continuations of %lld tokens; strengths %.120s; %lld benchmark items; "
             "%.15s threads; %.0f s wall time.",
             (long long)seeds, (long long)seed0, (long long)(seed0 + seeds - 1), s->width_narrow, s->width_wide,
             s->with_mat ? ", matryoshka (same two widths as groups)" : "", (long long)c->epochs,
             (long long)c->sample_tokens, (long long)s->prompts.n, (long long)c->samples, (long long)s->max_new_tokens,
             s->alphas_s, (long long)s->n_items, c->threads, sx_now() - t0);
    spec.narrow = c->name_narrow, spec.wide = c->name_wide, spec.mat = s->with_mat ? c->name_mat : NULL;
    if (study_recompute(s->root, &spec, hdr, &err)) goto fail;
    if (rename(s->root, out) != 0) {
        sx_failc(&err, SX_EIO, "%s: cannot rename to %s: %s", s->root, out, strerror(errno));
        goto fail;
    }
    snprintf(p, sizeof p, "%s/findings.md", out);
    FILE *f = fopen(p, "r");
    if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
        fclose(f);
    }
    fprintf(stderr, "saetox study: wrote %s (%.0f s)\n", out, sx_now() - t0);
    rc = 0;
fail:
    if (rc) {
        cli_error("study", err.msg);
        rm_tree(s->root);
    }
    free_study(s);
    return rc;
}
