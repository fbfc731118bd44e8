/* source.c — text sources: the KIND:PATH[//MEMBER][#FIELD] syntax (see io.h), the
 * per-kind record readers (text lines, whole files, JSONL fields, CSV columns) and labels
 * (a "FIELD OP NUMBER" rule splitting a labelled set into toxic and clean streams). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io_in.h"
#include "sx_json.h"

enum { K_TEXT, K_TEXTFILE, K_JSONL, K_CSV };
enum { OP_GE, OP_LE, OP_GT, OP_LT, OP_EQ, OP_NE };

typedef struct part {
    int kind;
    char *pattern, *member, *field;
    io_in in;
    int opened, in_file;
    int text_col, label_col, ncols; /* CSV */
} part;

struct sx_text_source {
    part *parts;
    int nparts, cur;
    sx_source_opts o;
    char *label_field;
    int op;
    double thr;
    io_buf line, doc;
    io_csv_rec rec;
    char where[8300];
    int64_t n_docs, n_bad, n_unlabelled;
    char first_bad[SX_ERR_LEN]; /* "file:line: problem" of the first skipped record */
};

static const char *KINDS[] = {"text", "textfile", "jsonl", "csv"};

static int kind_of(const char *s, size_t n) {
    for (int k = 0; k < 4; k++)
        if (strlen(KINDS[k]) == n && strncmp(s, KINDS[k], n) == 0) return k;
    return -1;
}

/* Does s start with "<kind>:"? (used to split a comma-joined list of sources) */
static int starts_with_kind(const char *s) {
    const char *c = strchr(s, ':');
    return c && kind_of(s, (size_t)(c - s)) >= 0;
}

int sx_source_is_spec(const char *spec) { return spec && starts_with_kind(spec); }

static int parse_part(part *p, const char *spec, size_t n, sx_err *err) {
    char *s = strndup(spec, n);
    if (!s) return sx_failc(err, SX_ENOMEM, "out of memory");
    char *colon = strchr(s, ':');
    if (!colon || (p->kind = kind_of(s, (size_t)(colon - s))) < 0) {
        sx_failc(err, SX_EINVAL, "%s: unknown source kind (expected text:, textfile:, jsonl: or csv:, "
                "e.g. jsonl:FILE#prompt.text)", s);
        free(s);
        return -1;
    }
    char *rest = colon + 1, *hash = strrchr(rest, '#');
    if (hash) {
        *hash = 0;
        if (!hash[1]) {
            sx_failc(err, SX_EINVAL, "%s: empty field name after '#'", rest);
            free(s);
            return -1;
        }
        p->field = strdup(hash + 1);
    } else if (p->kind == K_JSONL || p->kind == K_CSV) {
        p->field = strdup("text");
    }
    /* PATH//MEMBER: split at the first "//" whose left side names an archive */
    for (char *q = strstr(rest, "//"); q; q = strstr(q + 1, "//")) {
        *q = 0;
        if (io_path_kind(rest) == IO_ARCHIVE) {
            p->member = strdup(q + 2);
            break;
        }
        *q = '/';
    }
    if (!*rest) {
        sx_failc(err, SX_EINVAL, "%s: empty path", s);
        free(s);
        return -1;
    }
    p->pattern = strdup(rest);
    free(s);
    return 0;
}

static int parse_rule(sx_text_source *s, const char *rule, sx_err *err) {
    static const char *ops[] = {">=", "<=", ">", "<", "==", "!="};
    const char *best = NULL;
    int op = -1;
    for (int i = 0; i < 6; i++) {
        const char *q = strstr(rule, ops[i]);
        if (q && (!best || q < best)) best = q, op = i;
    }
    if (!best || best == rule)
        return sx_failc(err, SX_EINVAL, "label rule '%s': expected FIELD OP NUMBER, e.g. "
                       "prompt.toxicity>=0.5 or class<=1", rule);
    size_t fl = (size_t)(best - rule);
    while (fl && isspace((unsigned char)rule[fl - 1])) fl--;
    s->label_field = strndup(rule, fl);
    s->op = op;
    char *end;
    const char *num = best + strlen(ops[op]);
    s->thr = strtod(num, &end);
    while (isspace((unsigned char)*end)) end++;
    if (end == num || *end)
        return sx_failc(err, SX_ECORRUPT, "label rule '%s': '%s' is not a number", rule, num);
    return 0;
}

int sx_source_open(const char *spec, const sx_source_opts *o, sx_text_source **out,
                   sx_err *err) {
    *out = NULL;
    sx_text_source *s = calloc(1, sizeof *s);
    if (!s) return sx_failc(err, SX_ENOMEM, "out of memory");
    if (o) s->o = *o;
    int max = 1;
    for (const char *c = spec; *c; c++) max += *c == ',';
    s->parts = calloc((size_t)max, sizeof *s->parts);
    if (!s->parts) goto oom;
    const char *a = spec;
    while (*a) {
        const char *b = a;
        for (;;) { /* a comma followed by "kind:" starts the next source */
            b = strchr(b, ',');
            if (!b || starts_with_kind(b + 1)) break;
            b++;
        }
        size_t n = b ? (size_t)(b - a) : strlen(a);
        part *p = &s->parts[s->nparts++];
        if (parse_part(p, a, n, err)) goto fail;
        a += n + (b ? 1 : 0);
    }
    if (s->nparts == 0) {
        sx_failc(err, SX_EINVAL, "empty data source");
        goto fail;
    }
    s->op = -1;
    if (s->o.label_rule && *s->o.label_rule && parse_rule(s, s->o.label_rule, err)) goto fail;
    *out = s;
    return 0;
oom:
    sx_failc(err, SX_ENOMEM, "out of memory");
fail:
    sx_source_close(s);
    return -1;
}

void sx_source_close(sx_text_source *s) {
    if (!s) return;
    for (int i = 0; i < s->nparts; i++) {
        part *p = &s->parts[i];
        if (p->opened) io_in_close(&p->in);
        free(p->pattern);
        free(p->member);
        free(p->field);
    }
    free(s->parts);
    free(s->label_field);
    free(s->line.p);
    free(s->doc.p);
    io_csv_free(&s->rec);
    free(s);
}

const char *sx_source_first_bad(const sx_text_source *s) {
    return s->n_bad ? s->first_bad : NULL;
}

void sx_source_stats(const sx_text_source *s, int64_t *n_docs, int64_t *n_bad,
                     int64_t *n_unlabelled) {
    if (n_docs) *n_docs = s->n_docs;
    if (n_bad) *n_bad = s->n_bad;
    if (n_unlabelled) *n_unlabelled = s->n_unlabelled;
}

/* ---------- fields ---------- */

static const cJSON *json_path(const cJSON *j, const char *path) {
    char key[256];
    while (j && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
        path += n + (dot ? 1 : 0);
    }
    return j;
}

/* 1 = a number in *v, 0 = null / missing / empty, -1 = not a number */
static int json_number(const cJSON *j, double *v) {
    if (!j || cJSON_IsNull(j)) return 0;
    if (cJSON_IsNumber(j)) return *v = j->valuedouble, 1;
    if (cJSON_IsBool(j)) return *v = cJSON_IsTrue(j) ? 1 : 0, 1;
    if (cJSON_IsString(j)) {
        char *end;
        if (!*j->valuestring) return 0;
        *v = strtod(j->valuestring, &end);
        return end != j->valuestring && !*end ? 1 : -1;
    }
    return -1;
}

static int str_number(const char *t, double *v) {
    while (isspace((unsigned char)*t)) t++;
    if (!*t) return 0;
    char *end;
    *v = strtod(t, &end);
    while (isspace((unsigned char)*end)) end++;
    return end != t && !*end ? 1 : -1;
}

static int rule_holds(const sx_text_source *s, double v) {
    switch (s->op) {
    case OP_GE: return v >= s->thr;
    case OP_LE: return v <= s->thr;
    case OP_GT: return v > s->thr;
    case OP_LT: return v < s->thr;
    case OP_EQ: return v == s->thr;
    default: return v != s->thr;
    }
}

/* A bad record: skipped (counted) or an error, as the options say. Returns 0 to go on. */
static int bad_record(sx_text_source *s, sx_err *err, const char *what, const char *detail) {
    if (s->o.skip_bad) {
        if (!s->n_bad++)
            snprintf(s->first_bad, sizeof s->first_bad, "%.700s: %s%s%.200s%s", s->where, what,
                     detail ? " '" : "", detail ? detail : "", detail ? "'" : "");
        return 0;
    }
    sx_fail(err, "%s: %s%s%s%s", s->where, what, detail ? " '" : "", detail ? detail : "",
            detail ? "'" : "");
    return -1;
}

static int csv_header(sx_text_source *s, part *p, sx_err *err) {
    int64_t line;
    int r = io_csv_read(&p->in, &s->rec, SX_CSV_LENIENT, &line, err);
    if (r < 0) return -1;
    if (r == 0) return sx_failc(err, SX_EINVAL, "%s: empty CSV file (no header row)", p->in.name);
    p->text_col = p->label_col = -1;
    p->ncols = s->rec.n;
    for (int i = 0; i < s->rec.n; i++) {
        const char *h = io_csv_field(&s->rec, i);
        if (i == 0 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB) h += 3; /* BOM */
        if (strcmp(h, p->field) == 0) p->text_col = i;
        if (s->label_field && strcmp(h, s->label_field) == 0) p->label_col = i;
    }
    if (p->text_col < 0) return sx_failc(err, SX_ENOTFOUND, "%s: no column named '%s'", p->in.name, p->field);
    if (s->label_field && p->label_col < 0)
        return sx_failc(err, SX_ENOTFOUND, "%s: no label column named '%s'", p->in.name, s->label_field);
    return 0;
}

/* Read the next record of the open file of part p into s->doc (+ label).  Returns 1 with a
 * document, 0 at the end of the file, 2 to skip this record, -1 on error. */
static int read_record(sx_text_source *s, part *p, double *label, int *has_label, sx_err *err) {
    io_in *in = &p->in;
    *has_label = 0;
    s->doc.len = 0;
    if (p->kind == K_TEXTFILE) {
        if (in->eof && in->pos == in->len) return 0;
        snprintf(s->where, sizeof s->where, "%s", in->name);
        if (io_in_slurp(in, &s->doc, err)) return -1;
        in->eof = 1;
        return s->doc.len ? 1 : 2;
    }
    if (p->kind == K_CSV) {
        int64_t line;
        int r = io_csv_read(in, &s->rec, SX_CSV_LENIENT, &line, err);
        if (r <= 0) return r;
        snprintf(s->where, sizeof s->where, "%s:%lld", in->name, (long long)line);
        if (s->rec.n == 1 && !*io_csv_field(&s->rec, 0)) return 2; /* blank line */
        if (s->rec.n <= p->text_col || (p->label_col >= 0 && s->rec.n <= p->label_col))
            return bad_record(s, err, "row has too few fields", NULL) ? -1 : 2;
        const char *t = io_csv_field(&s->rec, p->text_col);
        if (io_buf_add(&s->doc, t, strlen(t))) return sx_failc(err, SX_ENOMEM, "%s: out of memory", s->where);
        if (p->label_col >= 0) {
            int r2 = str_number(io_csv_field(&s->rec, p->label_col), label);
            if (r2 < 0) return bad_record(s, err, "label is not a number:",
                                          io_csv_field(&s->rec, p->label_col)) ? -1 : 2;
            *has_label = r2;
        }
        return 1;
    }
    int r = io_in_getline(in, &s->line, err);
    if (r <= 0) return r;
    int64_t line = in->line++;
    snprintf(s->where, sizeof s->where, "%s:%lld", in->name, (long long)line);
    if (line == 1 && s->line.len >= 3 && memcmp(s->line.p, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        memmove(s->line.p, s->line.p + 3, s->line.len - 2);
        s->line.len -= 3;
    }
    if (p->kind == K_TEXT) {
        if (!s->line.len) return 2;
        return io_buf_add(&s->doc, s->line.p, s->line.len) ? sx_failc(err, SX_ENOMEM, "%s: out of memory", s->where) : 1;
    }
    /* JSONL */
    const char *q = s->line.p;
    while (isspace((unsigned char)*q)) q++;
    if (!*q) return 2;
    cJSON *j = sx_jsonl_parse(s->line.p, s->line.len, NULL);
    if (!j) return bad_record(s, err, "invalid JSON (skip such lines with --skip-bad)", NULL) ? -1 : 2;
    const cJSON *t = json_path(j, p->field);
    int rc = 1;
    if (!cJSON_IsString(t)) {
        rc = bad_record(s, err, "no string field", p->field) ? -1 : 2;
    } else if (io_buf_add(&s->doc, t->valuestring, strlen(t->valuestring))) {
        rc = sx_failc(err, SX_ENOMEM, "%s: out of memory", s->where);
    } else if (s->label_field) {
        int r2 = json_number(json_path(j, s->label_field), label);
        if (r2 < 0) rc = bad_record(s, err, "label field is not a number:", s->label_field) ? -1 : 2;
        else *has_label = r2;
    }
    cJSON_Delete(j);
    return rc;
}

int sx_source_next(sx_text_source *s, sx_doc *doc, sx_err *err) {
    while (s->cur < s->nparts) {
        part *p = &s->parts[s->cur];
        if (!p->opened) {
            if (io_in_open(&p->in, p->pattern, p->member, s->o.max_entry_bytes, err)) return -1;
            p->opened = 1;
        }
        if (!p->in_file) {
            int r = io_in_next_file(&p->in, err);
            if (r < 0) return -1;
            if (r == 0) {
                io_in_close(&p->in);
                p->opened = 0;
                s->cur++;
                continue;
            }
            p->in_file = 1;
            if (p->kind == K_CSV && csv_header(s, p, err)) return -1;
        }
        double label = NAN;
        int has_label;
        int r = read_record(s, p, &label, &has_label, err);
        if (r < 0) return -1;
        if (r == 0) {
            p->in_file = 0;
            continue;
        }
        if (r == 2) continue;
        doc->is_toxic = -1;
        doc->score = NAN;
        if (s->label_field) {
            if (!has_label) {
                s->n_unlabelled++;
                continue;
            }
            doc->is_toxic = rule_holds(s, label);
            doc->score = label;
            if ((s->o.want == 1 && !doc->is_toxic) || (s->o.want == 2 && doc->is_toxic)) continue;
        }
        if (s->o.html_unescape) s->doc.len = sx_html_decode(s->doc.p, s->doc.len, 0);
        doc->text = s->doc.p;
        doc->len = s->doc.len;
        doc->where = s->where;
        s->n_docs++;
        return 1;
    }
    return 0;
}
