/* csv.c — RFC 4180 output helpers and the pairs / families CSV files. */
#include "analysis.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sx_csv_field(FILE *f, const char *s) {
    if (!s) s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int sx_pairs_write_csv(const char *path, const sx_split_result *r, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    fputs("small_latent,wide_latent,cosine\n", af.f);
    for (int64_t k = 0; k < r->n_pairs; k++)
        fprintf(af.f, "%d,%d,%.6f\n", r->pairs[k].a, r->pairs[k].b, (double)r->pairs[k].cos);
    return sx_atomic_commit(&af, err);
}

int sx_families_write_csv(const char *path, const sx_families *f, const char *label_a,
                          const char *label_b, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    fputs("family_id,sae,latent\n", af.f);
    /* grouped by family: A members then B members, each ascending */
    int n = f->n_a + f->n_b;
    int64_t *start = calloc((size_t)f->n_families + 1, sizeof *start);
    int32_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!start || !order) {
        free(start), free(order);
        sx_atomic_abort(&af);
        return sx_fail(err, "%s: out of memory", path);
    }
    for (int i = 0; i < n; i++) if (f->fam[i] >= 0) start[f->fam[i] + 1]++;
    for (int k = 0; k < f->n_families; k++) start[k + 1] += start[k];
    for (int i = 0; i < n; i++) if (f->fam[i] >= 0) order[start[f->fam[i]]++] = i;
    int64_t k = 0;
    for (int fid = 0; fid < f->n_families; fid++)
        for (int32_t c = 0; c < f->size[fid]; c++, k++) {
            int i = order[k];
            fprintf(af.f, "%d,", fid);
            sx_csv_field(af.f, i < f->n_a ? label_a : label_b);
            fprintf(af.f, ",%d\n", i < f->n_a ? i : i - f->n_a);
        }
    free(start), free(order);
    return sx_atomic_commit(&af, err);
}

/* Split one CSV record (no embedded newlines needed for our files) into at most max fields,
 * in place.  Returns the field count. */
static int csv_split(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        char *out = p;
        fields[n++] = p;
        if (*p == '"') {
            char *q = p + 1;
            for (;;) {
                if (!*q) break;
                if (*q == '"' && q[1] == '"') { *out++ = '"'; q += 2; continue; }
                if (*q == '"') { q++; break; }
                *out++ = *q++;
            }
            p = q;
        } else {
            while (*p && *p != ',' && *p != '\r' && *p != '\n') *out++ = *p++;
        }
        char c = *p;
        *out = 0;
        if (c != ',') break;
        p++;
    }
    return n;
}

int sx_families_read_csv(const char *path, const char *label, int d_sae, int32_t *fam_of,
                         int32_t *size_of, int64_t *n_rows_label, sx_err *err) {
    FILE *fp = fopen(path, "r");
    if (!fp) return sx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char line[4096];
    int rc = 0;
    int64_t lineno = 0, nlab = 0;
    int32_t *fam_size = NULL;
    int64_t fam_cap = 0;
    for (int i = 0; i < d_sae; i++) fam_of[i] = -1;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *fld[4];
        int nf = csv_split(line, fld, 4);
        if (lineno == 1) {
            if (nf < 3 || strcmp(fld[0], "family_id") || strcmp(fld[1], "sae") ||
                strcmp(fld[2], "latent")) {
                rc = sx_fail(err, "%s: header is not family_id,sae,latent", path);
                break;
            }
            continue;
        }
        if (nf == 1 && !*fld[0]) continue;
        char *e1, *e2;
        long fid = strtol(fld[0], &e1, 10), lat = nf >= 3 ? strtol(fld[2], &e2, 10) : -1;
        if (nf < 3 || *e1 || *e2 || fid < 0 || fid > 100000000) {
            rc = sx_fail(err, "%s: line %lld: expected family_id,sae,latent", path,
                         (long long)lineno);
            break;
        }
        if (fid >= fam_cap) {
            int64_t nc = fam_cap ? fam_cap : 1024;
            while (nc <= fid) nc *= 2;
            int32_t *ns = realloc(fam_size, (size_t)nc * sizeof *ns);
            if (!ns) { rc = sx_fail(err, "%s: out of memory", path); break; }
            memset(ns + fam_cap, 0, (size_t)(nc - fam_cap) * sizeof *ns);
            fam_size = ns, fam_cap = nc;
        }
        fam_size[fid]++;
        if (strcmp(fld[1], label)) continue;
        if (lat < 0 || lat >= d_sae) {
            rc = sx_fail(err, "%s: line %lld: latent %ld is beyond d_sae %d of SAE '%s'", path,
                         (long long)lineno, lat, d_sae, label);
            break;
        }
        fam_of[lat] = (int32_t)fid;
        nlab++;
    }
    fclose(fp);
    if (!rc)
        for (int i = 0; i < d_sae; i++) size_of[i] = fam_of[i] >= 0 ? fam_size[fam_of[i]] : 1;
    free(fam_size);
    if (n_rows_label) *n_rows_label = nlab;
    return rc;
}

/* ---- reading our per-latent CSVs (RFC 4180, quoted newlines allowed) ---- */
typedef struct csv_rec {
    char *buf;
    size_t len, cap;
    size_t *off; /* field starts in buf */
    int n, cap_f;
} csv_rec;

static int rec_putc(csv_rec *r, char c) {
    if (r->len + 1 >= r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        char *nb = realloc(r->buf, nc);
        if (!nb) return -1;
        r->buf = nb, r->cap = nc;
    }
    r->buf[r->len++] = c;
    return 0;
}

static int rec_field(csv_rec *r) {
    if (r->n == r->cap_f) {
        int nc = r->cap_f ? r->cap_f * 2 : 32;
        size_t *no = realloc(r->off, (size_t)nc * sizeof *no);
        if (!no) return -1;
        r->off = no, r->cap_f = nc;
    }
    r->off[r->n++] = r->len;
    return 0;
}

/* Read one record; 1 = got one, 0 = end of file, -1 = out of memory. */
static int csv_read_record(FILE *f, csv_rec *r) {
    r->len = 0, r->n = 0;
    int c = fgetc(f);
    if (c == EOF) return 0;
    if (rec_field(r)) return -1;
    int inq = 0;
    for (; c != EOF; c = fgetc(f)) {
        if (inq) {
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') { if (rec_putc(r, '"')) return -1; continue; }
                inq = 0;
                if (d == EOF) break;
                c = d; /* fall through to the unquoted handling of d */
            } else {
                if (rec_putc(r, (char)c)) return -1;
                continue;
            }
        }
        if (c == '"') inq = 1;
        else if (c == ',') { if (rec_putc(r, 0) || rec_field(r)) return -1; }
        else if (c == '\n') break;
        else if (c != '\r') { if (rec_putc(r, (char)c)) return -1; }
    }
    return rec_putc(r, 0) ? -1 : 1;
}

static const char *rec_get(const csv_rec *r, int i) { return i >= 0 && i < r->n ? r->buf + r->off[i] : ""; }

int sx_ana_read_latent_column(const char *path, const char *label, const char *column, int d_sae,
                              double *out, int64_t *n_rows, sx_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return sx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    csv_rec r = {0};
    int rc = 0, ci = -1, li = -1, si = -1;
    int64_t lineno = 1, nr = 0;
    for (int i = 0; i < d_sae; i++) out[i] = NAN;
    int got = csv_read_record(f, &r);
    if (got <= 0) rc = sx_fail(err, "%s: empty file", path);
    for (int i = 0; !rc && i < r.n; i++) {
        if (!strcmp(rec_get(&r, i), column)) ci = i;
        if (!strcmp(rec_get(&r, i), "latent")) li = i;
        if (!strcmp(rec_get(&r, i), "sae")) si = i;
    }
    if (!rc && (ci < 0 || li < 0)) rc = sx_fail(err, "%s: no '%s' or 'latent' column", path, column);
    while (!rc && (got = csv_read_record(f, &r)) == 1) {
        lineno++;
        if (r.n == 1 && !*rec_get(&r, 0)) continue;
        if (label && si >= 0 && strcmp(rec_get(&r, si), label)) continue;
        char *e;
        long lat = strtol(rec_get(&r, li), &e, 10);
        if (*e || e == rec_get(&r, li)) { rc = sx_fail(err, "%s: record %lld: bad latent", path, (long long)lineno); break; }
        if (lat < 0 || lat >= d_sae) {
            rc = sx_fail(err, "%s: record %lld: latent %ld is beyond d_sae %d", path, (long long)lineno, lat, d_sae);
            break;
        }
        const char *v = rec_get(&r, ci);
        out[lat] = *v ? strtod(v, NULL) : NAN;
        nr++;
    }
    if (got < 0) rc = sx_fail(err, "%s: out of memory", path);
    free(r.buf), free(r.off);
    fclose(f);
    if (n_rows) *n_rows = nr;
    return rc;
}

int sx_ana_read_toxic_latents(const char *path, const char *label, int32_t *latents, int max,
                              sx_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return sx_fail(err, "%s: cannot open: %s", path, strerror(errno));
    csv_rec r = {0};
    int n = 0, li = -1, si = -1, got = csv_read_record(f, &r);
    for (int i = 0; got == 1 && i < r.n; i++) {
        if (!strcmp(rec_get(&r, i), "latent")) li = i;
        if (!strcmp(rec_get(&r, i), "sae")) si = i;
    }
    if (li < 0) n = sx_fail(err, "%s: no 'latent' column", path);
    while (n >= 0 && n < max && (got = csv_read_record(f, &r)) == 1) {
        if (r.n == 1 && !*rec_get(&r, 0)) continue;
        if (label && si >= 0 && strcmp(rec_get(&r, si), label)) continue;
        char *e;
        long lat = strtol(rec_get(&r, li), &e, 10);
        if (*e || lat < 0 || lat > INT32_MAX) { n = sx_fail(err, "%s: bad latent '%s'", path, rec_get(&r, li)); break; }
        latents[n++] = (int32_t)lat;
    }
    if (got < 0) n = sx_fail(err, "%s: out of memory", path);
    free(r.buf), free(r.off);
    fclose(f);
    return n;
}
