/* main.c — `saetox CMD ...` dispatch.  Subcommands live in cmd_<name>.c. */
#include "cli.h"
#include "core.h"
#include "sx_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Weak references: a subcommand whose file is not linked in reports that it is not built. */
#pragma weak cmd_analyze
#pragma weak cmd_cache
#pragma weak cmd_compare
#pragma weak cmd_demo
#pragma weak cmd_eval_sae
#pragma weak cmd_evaluate
#pragma weak cmd_export
#pragma weak cmd_fn
#pragma weak cmd_generate
#pragma weak cmd_lm_train
#pragma weak cmd_model_dump
#pragma weak cmd_perplexity
#pragma weak cmd_sae_encode
#pragma weak cmd_study
int cmd_study(int argc, char **argv); /* cmd_study.c */
#pragma weak cmd_score_toxicity
#pragma weak cmd_tokenize
#pragma weak cmd_train
#pragma weak cmd_train_scorer

typedef struct {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"model-dump", cmd_model_dump, "run a model on token ids and dump logits and residual hooks"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"generate", cmd_generate, "generate text, optionally steered"},
    {"cache", cmd_cache, "cache residual-stream activations to HDF5"},
    {"train", cmd_train, "train SAEs of several widths on activation caches"},
    {"sae-encode", cmd_sae_encode, "encode activations with an SAE (SAELens folder or Gemma Scope npz)"},
    {"analyze", cmd_analyze, "latent statistics, toxic latents, feature splitting (stats|toxic|split)"},
    {"score-toxicity", cmd_score_toxicity, "score JSONL texts with the built-in toxicity scorer"},
    {"train-scorer", cmd_train_scorer, "train the hashed n-gram toxicity scorer"},
    {"evaluate", cmd_evaluate, "steering sweep: toxicity, fluency and benchmark accuracy"},
    {"eval-sae", cmd_eval_sae, "SAE quality spliced into the model: CE loss / KL recovered, FVU, L0, dead latents"},
    {"compare", cmd_compare, "compare SAE widths: one row per SAE (quality, splitting, toxic latent, steering) + plots"},
    {"export", cmd_export, "export CSV reports, a notebook, an HTML dashboard and PNG plots"},
    {"lm-train", cmd_lm_train, "train a small GPT-2 from scratch"},
    {"perplexity", cmd_perplexity, "cross-entropy and perplexity of a model on documents"},
    {"demo", cmd_demo, "run the whole pipeline on the embedded default model"},
    {"study", cmd_study, "the paper's findings F1-F6 over several SAE seeds, with CIs and verdicts"},
};
#define NCOMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: saetox COMMAND [options]   (saetox COMMAND --help for its options; saetox --version)\n\n"
               "Train sparse autoencoders on language-model activations, find toxicity latents\n"
               "and steer generation with them.\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-16s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

/* OpenMP regions and OpenBLAS's own thread pool alternate many times per token.  With
 * libgomp's default active waiting, an idle OpenMP thread spins on a core that OpenBLAS needs
 * (on 2 cores this halved generation speed).  libgomp reads OMP_WAIT_POLICY only when it is
 * loaded, so when the user has not chosen a policy, re-execute once with PASSIVE. */
static void prefer_passive_omp_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv); /* returns only on failure: then carry on as we are */
}

/* ---------- under mpirun / srun (core/sx_mpi.h) ----------
 * Rank 0 prints as a single process does.  The other ranks write stdout nowhere and stderr to
 * a private temporary file: a failure every rank agreed on (sx_mpi_check) is printed once, by
 * rank 0, naming the failing rank; a failure only this rank knows of is printed here as one
 * line "saetox: rank K of N: <its last stderr line>" and ends the job (the others may be
 * blocked in a collective). */
static int g_err_fd = -1;
static FILE *g_err_buf;

static void mpi_quiet_other_ranks(void) {
    if (sx_mpi_size() == 1 || sx_mpi_rank() == 0) return;
    fflush(stdout), fflush(stderr);
    if (!freopen("/dev/null", "w", stdout)) { /* keep stdout as it is */
    }
    g_err_buf = tmpfile();
    if (!g_err_buf) return;
    g_err_fd = dup(2);
    dup2(fileno(g_err_buf), 2);
}

static void mpi_local_failure(int rc) {
    if (sx_mpi_rank() > 0 && g_err_fd >= 0 && g_err_buf) {
        fflush(stderr);
        char line[4096] = "failed", buf[4096];
        rewind(g_err_buf);
        while (fgets(buf, sizeof buf, g_err_buf))
            if (buf[0] != '\n') snprintf(line, sizeof line, "%s", buf);
        line[strcspn(line, "\n")] = 0;
        const char *m = strncmp(line, "saetox ", 7) == 0 && strchr(line, ':') ? strchr(line, ':') + 2 : line;
        dprintf(g_err_fd, "saetox: rank %d of %d: %s\n", sx_mpi_rank(), sx_mpi_size(), m);
    }
    sx_mpi_abort(rc);
}

/* Each rank's share of the cores when --threads is not given: cores / ranks on this node. */
static void mpi_default_threads(void) {
    int local = sx_mpi_local_size();
    if (local <= 1) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores > local ? (int)(cores / local) : 1;
    sx_set_threads(n);
}

/* The same command line on every rank (an MPMD launch or a wrapper script could differ). */
static int mpi_same_args(int argc, char **argv, sx_err *err) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 1; i < argc; i++)
        for (const char *p = argv[i];; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
            if (!*p) break;
        }
    char s[64];
    snprintf(s, sizeof s, "%016llx", (unsigned long long)h);
    return sx_mpi_same_string(s, "the command-line options", 0, err);
}

static int run_command(cli_cmd_fn fn, int argc, char **argv) {
    if (sx_mpi_size() == 1) return fn(argc, argv);
    sx_err err = {0};
    if (mpi_same_args(argc, argv, &err)) {
        if (sx_mpi_rank() == 0) fprintf(stderr, "saetox %s: %s\n", argv[0], err.msg);
        return 2;
    }
    mpi_default_threads();
    int rc = fn(argc, argv);
    /* rc 2 = a usage error: the same on every rank (same command line), printed by rank 0 */
    if (rc != 0 && rc != 2 && !sx_mpi_failure_agreed()) mpi_local_failure(rc);
    return rc;
}

int main(int argc, char **argv) {
    prefer_passive_omp_wait(argv);
    {
        sx_err merr = {0};
        if (sx_mpi_init(&argc, &argv, &merr)) {
            fprintf(stderr, "saetox: %s\n", merr.msg);
            return 2;
        }
        atexit(sx_mpi_finalize);
        mpi_quiet_other_ranks();
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    sx_err err;
    if (sx_simd_init(&err)) { /* a forced kernel path this CPU lacks: say so before any work */
        fprintf(stderr, "saetox: %s\n", err.msg);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
        cli_print_version(stdout);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) {
            if (!COMMANDS[i].fn) {
                fprintf(stderr, "saetox %s: not built in this version\n", argv[1]);
                return 2;
            }
            return run_command(COMMANDS[i].fn, argc - 1, argv + 1);
        }
    fprintf(stderr, "saetox: unknown command '%s' (see saetox --help)\n", argv[1]);
    return 2;
}
