/* cli.h — the saetox program: one file per subcommand (cmd_<name>.c) and a small declarative
 * option parser shared by all of them. */
#ifndef SAETOX_CLI_H
#define SAETOX_CLI_H

#include <stdint.h>
#include <stdio.h>

typedef enum { CLI_STR, CLI_INT, CLI_DBL, CLI_FLAG, CLI_STRLIST } cli_kind;

#define CLI_LIST_MAX 64
typedef struct cli_strlist {
    const char *v[CLI_LIST_MAX];
    int n;
} cli_strlist;

typedef struct cli_opt {
    const char *name;  /* without the leading "--" */
    cli_kind kind;
    void *dest;        /* const char **, int64_t *, double *, int *, cli_strlist * */
    const char *arg;   /* metavariable shown in --help, e.g. "DIR" (NULL for flags) */
    const char *help;
    int required;
    int seen;          /* set by the parser */
} cli_opt;

/* Parse argv (argv[0] is the subcommand name).  Returns 0 to proceed, 1 when --help was
 * printed (exit 0), 2 on a usage error (message already on stderr; exit 2).  Options may be
 * given as "--name value" or "--name=value"; repeated CLI_STRLIST options accumulate, and a
 * CLI_STRLIST value with commas is not split (callers split where the contract says so). */
int cli_parse(const char *cmd, const char *summary, cli_opt *opts, int nopts, int argc,
              char **argv);
void cli_usage(const char *cmd, const char *summary, const cli_opt *opts, int nopts);

/* Split "1,2,3" into at most max int64 values. Returns the count or -1 (bad number). */
int cli_parse_int_list(const char *s, int64_t *out, int max);
/* Split "0.5,1,2" into at most max doubles (strtod: inf and nan parse; callers check range).
 * Returns the count or -1 (bad number, too many). */
int cli_parse_dbl_list(const char *s, double *out, int max);
/* Print "saetox CMD: message" on stderr. */
void cli_error(const char *cmd, const char *msg);

/* cmd_evaluate.c: the lines `saetox evaluate` prints on stderr (also used by the demo): the
 * scales A_i, and one line per condition (an sx_sweep_row_fn). */
struct sx_sweep;
struct sx_sweep_row;
void cli_evaluate_print_scales(const struct sx_sweep *sw);
void cli_evaluate_print_row(void *user, const struct sx_sweep_row *row);

/* Subcommands: each returns the process exit status. */
typedef int (*cli_cmd_fn)(int argc, char **argv);

/* version.c: `saetox --version` (version, git revision, SIMD path, OpenBLAS, HDF5, libarchive). */
void cli_print_version(FILE *f);
int cmd_model_dump(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sae_encode(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_score_toxicity(int argc, char **argv);
int cmd_train_scorer(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_eval_sae(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_lm_train(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
