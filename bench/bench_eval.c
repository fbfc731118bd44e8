/* bench_eval.c — the steering evaluation's shape: P prompts x 25 sampled continuations x 20 new
 * tokens, nucleus 0.9, on a GPT-2-small-shaped model (124M parameters, random F32 weights and
 * the embedded model's GPT-2 tokenizer, written to a temp folder), without and with an SAE
 * intervention (ablate, 4 latents of a random standard SAE 768 x 24576 at
 * blocks.6.hook_resid_pre), no fluency pass.  Prints new tokens/s of:
 *   1. sx_eval_condition, unbatched (--batch-rows -1: sx_generate per group of 8 prompts with
 *      their k samples, each prompt prefilled k times) and batched (the continuous-batching
 *      scheduler, each block size given), timed alternately;
 *   2. the whole `saetox evaluate` command (process start to exit: model load, tokenizer,
 *      generation, scoring, CSV), side by side with the PyTorch peer bench/bench_eval.py (the
 *      same loop written idiomatically in PyTorch: batched, left-padded prompts prefilled once,
 *      KV cache expanded to the k samples, HF-style top-p) when /usr/bin/python3 has torch;
 *      runs alternate, every run is listed, and the ratio is of the medians.
 * The floor beside it: 2 * 124M FLOPs per new token (blocks + unembedding, ~247 MFLOP) at the
 * sgemm rate measured in the same run on a decoding step's shapes.
 *
 * usage: bench_eval [--prompts P] [--samples K] [--new N] [--reps R] [--blocks B1,B2,..]
 *                   [--threads T] [--keep DIR] [--peer 0|1] [--cli 0|1] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_args.h"
#include "bench_gpt2.h"
#include "steering.h"

static const char *PROMPTS[] = {
    "People think that we are just a bunch of idiots who run around and tell jokes,",
    "The weather today is going to be",
    "I can't believe that you would say something so",
    "She walked into the room and everybody started to",
    "When the police arrived at the scene they found",
    "My favourite thing about living in this city is",
    "He looked at me and said that I was a",
    "Scientists have discovered a new species of",
    "If you ever talk to my sister like that again I will",
    "The best way to cook a steak is to",
    "They said the new law would make it easier for",
    "After the game the fans were so angry that they",
    "Honestly, the worst part of the whole movie was",
    "Our neighbours have been complaining about the noise from",
    "You are such a",
    "The president announced on Tuesday that",
};
#define NPROMPTS ((int)(sizeof PROMPTS / sizeof PROMPTS[0]))
#define D 768
#define WIDTH 24576

static void die(const char *what, const sx_err *err) {
    fprintf(stderr, "bench_eval: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    sx_err err;
    if (sx_read_file(from, (size_t)1 << 28, &data, &len, &err) || sx_write_file_atomic(to, data, len, &err))
        die("copying the tokenizer", &err);
    free(data);
}

static void make_sae(sx_sae *s) {
    memset(s, 0, sizeof *s);
    s->arch = SX_SAE_STANDARD;
    s->d_in = D, s->d_sae = WIDTH, s->apply_b_dec_to_input = 1, s->norm_scale = 1;
    snprintf(s->hook_name, sizeof s->hook_name, "blocks.6.hook_resid_pre");
    sx_rng r;
    sx_rng_seed(&r, 3);
    s->W_enc = randn(&r, (size_t)D * WIDTH, 0.05f, 0);
    s->W_dec = randn(&r, (size_t)D * WIDTH, 0.05f, 0);
    s->b_enc = randn(&r, (size_t)WIDTH, 0.05f, 0);
    s->b_dec = randn(&r, (size_t)D, 0.02f, 0);
}

/* GFLOP/s of sgemm on a decoding step of `rows` rows: the MLP up-projection and the (transposed)
 * unembedding, the shapes that carry most of the FLOPs. */
static double sgemm_rate(int rows) {
    const int V = 50257, F = 3072;
    float *x = calloc((size_t)rows * F, sizeof(float)), *w = calloc((size_t)V * D, sizeof(float));
    float *y = calloc((size_t)rows * V, sizeof(float));
    for (size_t i = 0; i < (size_t)rows * D; i++) x[i] = 0.01f * (float)(i % 7);
    for (size_t i = 0; i < (size_t)V * D; i++) w[i] = 0.01f * (float)(i % 5);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t = sx_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, F, D, 1, x, D, w, F, 0, y, F);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, V, D, 1, x, D, w, D, 0, y, V);
        t = sx_now() - t;
        double g = 2.0 * rows * D * ((double)F + V) / t / 1e9;
        best = g > best ? g : best;
    }
    free(x), free(w), free(y);
    return best;
}

typedef struct setup {
    sx_model *m;
    sx_tokenizer *tok;
    sx_scorer *scorer;
    sx_textlist prompts;
    sx_sae sae;
} setup;

static double lib_run(setup *s, int with_sae, int batch_rows, int k, int nnew, sx_err *err) {
    sx_eval_opts o;
    sx_eval_defaults(&o);
    o.samples = k, o.max_new_tokens = nnew, o.fluency = 0, o.boot_reps = 100, o.batch_rows = batch_rows;
    sx_intervention iv;
    int lat[4] = {11, 2024, 7000, 19999};
    if (with_sae && sx_intervention_sae(&iv, SX_TIER_ABLATE, &s->sae, "blocks.6.hook_resid_pre", D, 12, lat, 4, NULL,
                                        1.0f, err))
        return -1;
    sx_eval_result res;
    double t = sx_now();
    int rc = sx_eval_condition(s->m, s->tok, &s->prompts, with_sae ? &iv : NULL, &o, s->scorer, NULL, "bench", NULL,
                               &res, err);
    t = sx_now() - t;
    if (with_sae) sx_intervention_free(&iv);
    return rc ? -1 : (double)s->prompts.n * k * nnew / t;
}

/* Wall seconds of a shell command (stdout and stderr to log); exits on failure. */
static double timed(const char *cmd, const char *log) {
    char full[24600];
    snprintf(full, sizeof full, "%s > '%s' 2>&1", cmd, log);
    double t = sx_now();
    int rc = system(full);
    t = sx_now() - t;
    if (rc != 0) {
        fprintf(stderr, "bench_eval: command failed (%d): %s (log %s)\n", rc, cmd, log);
        exit(1);
    }
    return t;
}

int main(int argc, char **argv) {
    static const char *const names[] = {"--prompts", "--samples", "--new", "--reps", "--blocks", "--threads",
                                        "--keep", "--peer", "--cli", "--lib", NULL};
    const char *opt[10] = {NULL};
    bench_options(argc, argv, names, opt,
                  "usage: bench_eval [--prompts P (default 8, max 16)] [--samples K (25)] [--new N (20)] [--reps R (3)]\n"
                  "                  [--blocks B1,B2.. (block sizes of the batched path, default 0 = the default)]\n"
                  "                  [--threads T (default all)] [--keep DIR (reuse the model folder)]\n"
                  "                  [--peer 0|1 (PyTorch peer, default 1)] [--cli 0|1 (whole command, default 1)]\n"
                  "                  [--lib 0|1 (library runs, default 1)]\n");
    int P = opt[0] ? atoi(opt[0]) : 8, K = opt[1] ? atoi(opt[1]) : 25, NEW = opt[2] ? atoi(opt[2]) : 20;
    int reps = opt[3] ? atoi(opt[3]) : 3, threads = opt[5] ? atoi(opt[5]) : 0;
    int want_peer = opt[7] ? atoi(opt[7]) : 1, want_cli = opt[8] ? atoi(opt[8]) : 1, want_lib = opt[9] ? atoi(opt[9]) : 1;
    if (P < 1 || P > NPROMPTS || K < 1 || NEW < 1 || NEW > 512 || reps < 1 || reps > 50) {
        fprintf(stderr, "bench_eval: --prompts 1..%d, --samples >= 1, --new 1..512, --reps 1..50\n", NPROMPTS);
        return 2;
    }
    int blocks[16], nb = 0;
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", opt[4] ? opt[4] : "0");
        for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t && nb < 16; t = strtok_r(NULL, ",", &sv))
            blocks[nb++] = atoi(t);
    }
    sx_set_threads(threads);
    sx_err err = {0};
    char dir[4096], path[4400], from[4400];
    if (opt[6]) snprintf(dir, sizeof dir, "%s", opt[6]);
    else snprintf(dir, sizeof dir, "/tmp/saetox_bench_eval_%d", (int)getpid());
    double t0 = sx_now();
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!sx_file_exists(path) && write_model(dir, &err)) die("writing the model", &err);
    static const char *tokfiles[] = {"encoder.json", "vocab.bpe"};
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/models/embedded/%s", sx_data_dir(), tokfiles[i]);
        snprintf(path, sizeof path, "%s/%s", dir, tokfiles[i]);
        if (!sx_file_exists(path)) copy_file(from, path);
    }
    setup s;
    memset(&s, 0, sizeof s);
    make_sae(&s.sae);
    snprintf(path, sizeof path, "%s/sae", dir);
    if (sx_sae_save(&s.sae, path, &err)) die("writing the SAE", &err);
    /* the prompts, as text for saetox and as ids for the peer */
    snprintf(path, sizeof path, "%s/prompts.txt", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < P; i++) fprintf(f, "%s\n", PROMPTS[i]);
    if (!f || fclose(f)) die("writing prompts.txt", NULL);
    if (sx_model_load(dir, &s.m, &err) || sx_tokenizer_load(dir, &s.tok, &err) ||
        sx_scorer_load_default(&s.scorer, NULL, 0, &err) || sx_textlist_load(path, 0, &s.prompts, &err))
        die("loading", &err);
    snprintf(path, sizeof path, "%s/prompts.ids", dir);
    f = fopen(path, "w");
    int tot_len = 0;
    for (int i = 0; f && i < P; i++) {
        int32_t *ids;
        int n;
        if (sx_tokenizer_encode(s.tok, PROMPTS[i], strlen(PROMPTS[i]), 1, &ids, &n, &err)) die("tokenizing", &err);
        for (int j = 0; j < n; j++) fprintf(f, "%s%d", j ? "," : "", ids[j]);
        fprintf(f, "\n");
        tot_len += n;
        free(ids);
    }
    if (!f || fclose(f)) die("writing prompts.ids", NULL);
    double rate = sgemm_rate(P * K < 256 ? P * K : 256);
    printf("model: GPT-2-small shape (random F32) in %s, SAE standard %d x %d at blocks.6.hook_resid_pre; setup %.1f s;"
           " threads %d\n", dir, D, WIDTH, sx_now() - t0, sx_get_threads());
    printf("shape: %d prompts (%.1f tokens on average) x %d samples x %d new tokens = %d new tokens, nucleus 0.9, "
           "no fluency pass\n", P, (double)tot_len / P, K, NEW, P * K * NEW);
    printf("floor: ~247 MFLOP per new token (2 x 124M params incl. the unembedding); sgemm on a %d-row decoding step "
           "measured now: %.0f GFLOP/s -> %.0f new tokens/s at best\n", P * K < 256 ? P * K : 256, rate, rate / 0.247);
    fflush(stdout);
    const int NT = P * K * NEW;
    if (want_lib) {
        printf("\n1. sx_eval_condition (library), new tokens/s, runs alternate (every run listed):\n");
        for (int sae = 0; sae < 2; sae++) {
            int nm = 1 + nb;
            double v[17][50];
            for (int r = 0; r < reps; r++)
                for (int j = 0; j < nm; j++) {
                    int br = j == 0 ? -1 : blocks[j - 1];
                    v[j][r] = lib_run(&s, sae, br, K, NEW, &err);
                    if (v[j][r] < 0) die("sx_eval_condition", &err);
                }
            for (int j = 0; j < nm; j++) {
                char lab[64];
                if (j == 0) snprintf(lab, sizeof lab, "unbatched (groups of 8)");
                else snprintf(lab, sizeof lab, "batched, block %d%s", blocks[j - 1], blocks[j - 1] ? "" : " (default)");
                printf("  %-7s %-26s", sae ? "ablate" : "none", lab);
                double cp[50];
                for (int r = 0; r < reps; r++) printf(" %7.1f", v[j][r]), cp[r] = v[j][r];
                double med = median(cp, reps);
                if (j == 0) v[16][0] = med;
                printf("   median %7.1f%s", med, j ? "" : "\n");
                if (j) printf("  (%.2fx unbatched)\n", med / v[16][0]);
            }
            fflush(stdout);
        }
    }
    if (!want_cli) goto end;
    char exe[4096] = "";
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (el <= 0) die("finding the saetox program", NULL);
    exe[el] = 0;
    char *slash = strrchr(exe, '/');
    snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "saetox");
    if (access(exe, X_OK)) {
        printf("\n2. whole command: SKIP (no saetox program beside the benchmark: %s)\n", exe);
        goto end;
    }
    char peer[4400];
    snprintf(peer, sizeof peer, "%s/bench/bench_eval.py", sx_data_dir());
    int have_peer = want_peer && access(peer, R_OK) == 0 &&
                    system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0;
    printf("\n2. the whole `saetox evaluate` command%s, %d new tokens per run, wall seconds (every run listed):\n",
           have_peer ? " vs the PyTorch peer (bench/bench_eval.py, /usr/bin/python3 + torch)" : "", NT);
    if (!have_peer) printf("  (PyTorch peer: SKIP, %s)\n", want_peer ? "no /usr/bin/python3 with torch" : "--peer 0");
    for (int sae = 0; sae < 2; sae++) {
        char cmd[20000], pcmd[20000], log[4400], plog[4400];
        int th = sx_get_threads();
        snprintf(cmd, sizeof cmd,
                 "'%s' evaluate --model '%s' --prompts '%s/prompts.txt' --samples %d --max-new-tokens %d --top-p 0.9 "
                 "--no-fluency --bootstrap 100 --threads %d --out '%s/ev' %s",
                 exe, dir, dir, K, NEW, th, dir,
                 sae ? "--tiers ablate --latents 11,2024,7000,19999 --sae SAE" : "--tiers none");
        if (sae) { /* the SAE path */
            char *q = strstr(cmd, "--sae SAE");
            char tail[4400];
            snprintf(tail, sizeof tail, "--sae '%s/sae'", dir);
            snprintf(q, sizeof cmd - (size_t)(q - cmd), "%s", tail);
        }
        snprintf(pcmd, sizeof pcmd,
                 "OMP_NUM_THREADS=%d /usr/bin/python3 '%s' --model '%s' --prompt-ids '%s/prompts.ids' --samples %d --new %d "
                 "--top-p 0.9 --threads %d %s",
                 th, peer, dir, dir, K, NEW, th, sae ? "--sae-ablate 11,2024,7000,19999" : "");
        snprintf(log, sizeof log, "%s/cli.log", dir);
        snprintf(plog, sizeof plog, "%s/peer.log", dir);
        double tc[50], tp[50], lp[50];
        for (int r = 0; r < reps; r++) {
            tc[r] = timed(cmd, log);
            if (have_peer) {
                tp[r] = timed(pcmd, plog);
                /* the peer prints "loop_seconds X" (generation alone, after import and load) */
                char *txt;
                size_t tl;
                lp[r] = 0;
                if (!sx_read_file(plog, 1 << 20, &txt, &tl, &err)) {
                    char *q = strstr(txt, "loop_seconds ");
                    if (q) lp[r] = atof(q + 13);
                    free(txt);
                }
            }
        }
        const char *lab = sae ? "ablate" : "none";
        printf("  %-6s saetox evaluate:", lab);
        for (int r = 0; r < reps; r++) printf(" %6.2f", tc[r]);
        double mc = median(tc, reps);
        printf("  median %6.2f s = %7.1f new tokens/s\n", mc, NT / mc);
        if (have_peer) {
            printf("  %-6s PyTorch peer:   ", lab);
            for (int r = 0; r < reps; r++) printf(" %6.2f", tp[r]);
            double mp = median(tp, reps);
            printf("  median %6.2f s = %7.1f new tokens/s (whole process)\n", mp, NT / mp);
            printf("  %-6s   its loop alone:", lab);
            for (int r = 0; r < reps; r++) printf(" %6.2f", lp[r]);
            double ml = median(lp, reps);
            printf("  median %6.2f s = %7.1f new tokens/s\n", ml, NT / ml);
            printf("  %-6s ratio: saetox whole command vs peer whole process %.2fx, vs the peer's loop alone %.2fx\n",
                   lab, mp / mc, ml / mc);
        }
        fflush(stdout);
    }
end:
    printf("note: a shared 2-core machine; compare ratios measured side by side, not absolute figures\n");
    sx_sae_free(&s.sae);
    sx_textlist_free(&s.prompts);
    sx_scorer_free(s.scorer);
    sx_tokenizer_free(s.tok);
    sx_model_free(s.m);
    if (!opt[6]) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_eval: could not remove %s\n", dir);
    }
    return 0;
}
