/* args.c — the declarative option parser behind every subcommand's --help. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *cmd, const char *msg) { fprintf(stderr, "saetox %s: %s\n", cmd, msg); }

void cli_usage(const char *cmd, const char *summary, const cli_opt *opts, int nopts) {
    printf("usage: saetox %s [options]\n\n%s\n\noptions:\n", cmd, summary);
    for (int i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        printf("  %-28s %s%s\n", left, opts[i].help, opts[i].required ? " (required)" : "");
    }
    printf("  %-28s %s\n", "--help", "show this help and exit");
}

static int set_value(const char *cmd, cli_opt *o, const char *val) {
    char *end;
    switch (o->kind) {
    case CLI_STR: *(const char **)o->dest = val; return 0;
    case CLI_STRLIST: {
        cli_strlist *l = o->dest;
        if (l->n >= CLI_LIST_MAX) {
            fprintf(stderr, "saetox %s: --%s given more than %d times\n", cmd, o->name, CLI_LIST_MAX);
            return 2;
        }
        l->v[l->n++] = val;
        return 0;
    }
    case CLI_INT: {
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            fprintf(stderr, "saetox %s: --%s expects an integer, got '%s'\n", cmd, o->name, val);
            return 2;
        }
        *(int64_t *)o->dest = v;
        return 0;
    }
    case CLI_DBL: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end) {
            fprintf(stderr, "saetox %s: --%s expects a number, got '%s'\n", cmd, o->name, val);
            return 2;
        }
        *(double *)o->dest = v;
        return 0;
    }
    case CLI_FLAG: *(int *)o->dest = 1; return 0;
    }
    return 2;
}

int cli_parse(const char *cmd, const char *summary, cli_opt *opts, int nopts, int argc,
              char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(cmd, summary, opts, nopts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "saetox %s: unexpected argument '%s' (see saetox %s --help)\n", cmd, a, cmd);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
        if (!o) {
            fprintf(stderr, "saetox %s: unknown option '%.*s' (see saetox %s --help)\n", cmd,
                    (int)nlen + 2, a, cmd);
            return 2;
        }
        const char *val = NULL;
        if (o->kind == CLI_FLAG) {
            if (eq) {
                fprintf(stderr, "saetox %s: --%s takes no value\n", cmd, o->name);
                return 2;
            }
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "saetox %s: --%s needs a value\n", cmd, o->name);
            return 2;
        }
        if (o->kind != CLI_STRLIST && o->kind != CLI_FLAG && o->seen) {
            fprintf(stderr, "saetox %s: --%s given twice\n", cmd, o->name);
            return 2;
        }
        o->seen = 1;
        int rc = set_value(cmd, o, val);
        if (rc) return rc;
    }
    for (int k = 0; k < nopts; k++)
        if (opts[k].required && !opts[k].seen) {
            fprintf(stderr, "saetox %s: --%s is required (see saetox %s --help)\n", cmd, opts[k].name, cmd);
            return 2;
        }
    return 0;
}

int cli_parse_dbl_list(const char *s, double *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || n >= max) return -1;
        out[n++] = v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n;
}

int cli_parse_int_list(const char *s, int64_t *out, int max) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || n >= max) return -1;
        out[n++] = v;
        while (*end == ' ') end++;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n;
}
