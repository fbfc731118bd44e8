/* bench_args.h — command-line handling shared by the benchmarks: -h / --help prints the
 * usage and exits 0; an unknown option, a missing value or too many arguments prints one
 * line naming the problem, then the usage, to stderr and exits 2. */
#ifndef BENCH_ARGS_H
#define BENCH_ARGS_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int bench_is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help"); }

static inline void bench_bad_args(const char *prog, const char *what, const char *arg, const char *usage) {
    fprintf(stderr, "%s: %s%s%s\n%s", prog, what, arg ? " " : "", arg ? arg : "", usage);
    exit(2);
}

/* A benchmark with up to max_args positional arguments (numbers or names, never '-...'). */
static inline void bench_positional(int argc, char **argv, int max_args, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (bench_is_help(argv[i])) fputs(usage, stdout), exit(0);
        if (argv[i][0] == '-' && argv[i][1] != '\0') bench_bad_args(argv[0], "unknown option", argv[i], usage);
    }
    if (argc - 1 > max_args) bench_bad_args(argv[0], "too many arguments", NULL, usage);
}

/* A benchmark with "--name value" options: names is NULL-terminated; vals[i] receives the
 * value given for names[i] (left as it was when the option is absent). */
static inline void bench_options(int argc, char **argv, const char *const *names, const char **vals, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (bench_is_help(argv[i])) fputs(usage, stdout), exit(0);
        int k = 0;
        while (names[k] && strcmp(names[k], argv[i]) != 0) k++;
        if (!names[k]) bench_bad_args(argv[0], "unknown argument", argv[i], usage);
        if (i + 1 >= argc) bench_bad_args(argv[0], "missing the value of", argv[i], usage);
        vals[k] = argv[++i];
    }
}
#endif
