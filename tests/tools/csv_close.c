/* csv_close — do two CSV files agree up to float rounding?  For outputs of two code paths
 * that compute the same numbers in a different order (e.g. a cache read back vs the model
 * run on the text), where bit equality would test the summation order, not the program.
 *
 *   csv_close [-t TOL] [-g COL,..] [-i COL,..] A B
 *
 * Same header and row count; cell by cell, numbers agree within TOL relative to the larger
 * magnitude (default 2e-5: files written with 6 significant digits quantise at up to 1e-5),
 * other cells exactly.  Columns -i are not compared.  With -g (the columns naming a ranked
 * group, e.g. sae,latent): a row whose text cells differ is still accepted when its numbers
 * agree and it is a tie in A (its numbers within TOL of another row of the same group, or
 * it is the group's last row, which ties with the first one left out): two near-equal
 * values may come out in either order.  Prints each difference; exit 0 when none, 1 else. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static double tol = 2e-5;
static int ignore[64], group[64];

static int is_num(const char *s, double *v) {
    char *end;
    if (!*s) return 0;
    *v = strtod(s, &end);
    return *end == 0;
}

static int close_num(double a, double b) {
    if (a == b) return 1;
    if (isnan(a) || isnan(b)) return 0;
    return fabs(a - b) <= tol * fmax(fabs(a), fabs(b));
}

/* 1: cells agree (numbers within tol); which: 0 all columns, 1 numbers only */
static int cells_agree(const sx_csv_table *a, int64_t ra, const sx_csv_table *b, int64_t rb, int numbers_only) {
    for (int c = 0; c < a->ncols; c++) {
        if (ignore[c]) continue;
        const char *x = sx_csv_cell(a, ra, c), *y = sx_csv_cell(b, rb, c);
        double u = 0, v = 0;
        int nx = is_num(x, &u), ny = is_num(y, &v);
        if (nx && ny) {
            if (!close_num(u, v)) return 0;
        } else if (!numbers_only && strcmp(x, y) != 0) {
            return 0;
        }
    }
    return 1;
}

static int same_group(const sx_csv_table *a, int64_t r, int64_t s) {
    for (int c = 0; c < a->ncols; c++)
        if (group[c] && strcmp(sx_csv_cell(a, r, c), sx_csv_cell(a, s, c)) != 0) return 0;
    return 1;
}

/* row r of A ties with another row of its group (numbers within tol), or ends its group */
static int is_tie(const sx_csv_table *a, int64_t r) {
    if (r + 1 >= a->nrows || !same_group(a, r, r + 1)) return 1;
    for (int64_t s = r - 1; s >= 0 && same_group(a, r, s); s--)
        if (cells_agree(a, r, a, s, 1)) return 1;
    for (int64_t s = r + 1; s < a->nrows && same_group(a, r, s); s++)
        if (cells_agree(a, r, a, s, 1)) return 1;
    return 0;
}

static int mark(const sx_csv_table *t, const char *list, int *flags) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int c = sx_csv_col(t, tok);
        if (c < 0 || c >= 64) return fprintf(stderr, "csv_close: %s: no column '%s'\n", t->path, tok), -1;
        flags[c] = 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *glist = NULL, *ilist = NULL;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-t")) tol = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "-g")) glist = argv[i + 1];
        else if (!strcmp(argv[i], "-i")) ilist = argv[i + 1];
        else return fprintf(stderr, "csv_close: unknown option %s\n", argv[i]), 2;
    }
    if (argc - i != 2) return fprintf(stderr, "usage: csv_close [-t TOL] [-g COL,..] [-i COL,..] A B\n"), 2;
    sx_csv_table a, b;
    sx_err err;
    if (sx_csv_read(argv[i], &a, &err)) return fprintf(stderr, "csv_close: %s\n", err.msg), 2;
    if (sx_csv_read(argv[i + 1], &b, &err)) return fprintf(stderr, "csv_close: %s\n", err.msg), 2;
    int bad = 0;
    if (a.ncols != b.ncols || a.ncols > 64) {
        fprintf(stderr, "csv_close: %d vs %d columns\n", a.ncols, b.ncols);
        return 1;
    }
    for (int c = 0; c < a.ncols; c++)
        if (strcmp(a.header[c], b.header[c])) return fprintf(stderr, "csv_close: headers differ\n"), 1;
    if (a.nrows != b.nrows) return fprintf(stderr, "csv_close: %lld vs %lld rows\n", (long long)a.nrows, (long long)b.nrows), 1;
    if ((glist && mark(&a, glist, group)) || (ilist && mark(&a, ilist, ignore))) return 2;
    int64_t ties = 0;
    for (int64_t r = 0; r < a.nrows; r++) {
        if (cells_agree(&a, r, &b, r, 0)) continue;
        if (glist && cells_agree(&a, r, &b, r, 1) && is_tie(&a, r)) {
            ties++;
            continue;
        }
        if (bad++ < 10) {
            fprintf(stderr, "csv_close: line %lld differs:\n  ", (long long)a.line[r]);
            for (int c = 0; c < a.ncols; c++) fprintf(stderr, "%s%s", c ? "," : "", sx_csv_cell(&a, r, c));
            fprintf(stderr, "\n  ");
            for (int c = 0; c < b.ncols; c++) fprintf(stderr, "%s%s", c ? "," : "", sx_csv_cell(&b, r, c));
            fprintf(stderr, "\n");
        }
    }
    printf("csv_close: %lld rows, %d differ beyond %g, %lld near-tie swaps\n", (long long)a.nrows, bad, tol,
           (long long)ties);
    sx_csv_free(&a);
    sx_csv_free(&b);
    return bad ? 1 : 0;
}
