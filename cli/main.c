/* main.c — `saetox CMD ...` dispatch.  Subcommands live in cmd_<name>.c. */
#include "cli.h"
#include "core.h"

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
#pragma weak cmd_sae_encode
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
    {"demo", cmd_demo, "run the whole pipeline on the embedded default model"},
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

int main(int argc, char **argv) {
    prefer_passive_omp_wait(argv);
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
            return COMMANDS[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "saetox: unknown command '%s' (see saetox --help)\n", argv[1]);
    return 2;
}
