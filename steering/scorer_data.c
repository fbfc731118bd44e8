/* scorer_data.c — labelled toxicity text for the scorer: Davidson CSV (RFC 4180, quoted
 * newlines), RealToxicityPrompts JSONL (prompt and continuation, each with a Perspective
 * toxicity score, null scores skipped), DecodingTrust generations JSONL (prompt.text +
 * prompt.score.toxicity) and a generic JSONL (text + toxicity or label).
 *
 * Written inside steering/ so the scorer does not wait on the datasets module; these are
 * small whole-file readers (the files are a few MB). */
#include "steering.h"
#include "sx_json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FILE ((size_t)1 << 31)

static int add(sx_labelled *d, const char *text, size_t len, float score, int src, sx_err *err) {
    if (d->n == d->cap) {
        int64_t nc = d->cap ? d->cap * 2 : 4096;
        char **nt = realloc(d->text, sizeof(char *) * (size_t)nc);
        if (!nt) return sx_fail(err, "out of memory loading labelled text");
        d->text = nt;
        float *ns = realloc(d->score, sizeof(float) * (size_t)nc);
        if (!ns) return sx_fail(err, "out of memory loading labelled text");
        d->score = ns;
        int *nsrc = realloc(d->source, sizeof(int) * (size_t)nc);
        if (!nsrc) return sx_fail(err, "out of memory loading labelled text");
        d->source = nsrc;
        d->cap = nc;
    }
    char *t = malloc(len + 1);
    if (!t) return sx_fail(err, "out of memory loading labelled text");
    memcpy(t, text, len);
    t[len] = 0;
    d->text[d->n] = t;
    d->score[d->n] = score;
    d->source[d->n] = src;
    d->n++;
    return 0;
}

void sx_labelled_free(sx_labelled *d) {
    for (int64_t i = 0; i < d->n; i++) free(d->text[i]);
    free(d->text);
    free(d->score);
    free(d->source);
    memset(d, 0, sizeof *d);
}

int sx_text_is_holdout(const char *text, double frac) {
    uint64_t h = 0x84222325cbf29ce4ULL; /* salted FNV-1a, then a finaliser */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double)(h >> 11) * 0x1.0p-53 < frac;
}

/* ---------- CSV (RFC 4180) ---------- */
typedef struct {
    const char *buf;
    size_t len, pos;
    long line;
    char *field;    /* unescaped fields, NUL-separated */
    size_t fcap;
    size_t off[64];
    int nf;
} csv;

/* Read one record; returns 1 on a record, 0 at end, -1 on a malformed record. */
static int csv_next(csv *c) {
    if (c->pos >= c->len) return 0;
    size_t o = 0;
    c->nf = 0;
    for (;;) {
        if (c->nf < 64) c->off[c->nf] = o;
        int quoted = c->pos < c->len && c->buf[c->pos] == '"';
        if (quoted) c->pos++;
        for (;;) {
            if (o + 2 > c->fcap) {
                size_t nc = c->fcap ? c->fcap * 2 : 4096;
                char *nf = realloc(c->field, nc);
                if (!nf) return -1;
                c->field = nf;
                c->fcap = nc;
            }
            if (c->pos >= c->len) {
                if (quoted) return -1; /* unterminated quote */
                break;
            }
            char ch = c->buf[c->pos];
            if (quoted) {
                if (ch == '"') {
                    if (c->pos + 1 < c->len && c->buf[c->pos + 1] == '"') {
                        c->field[o++] = '"';
                        c->pos += 2;
                        continue;
                    }
                    c->pos++;
                    quoted = 0;
                    continue;
                }
                if (ch == '\n') c->line++;
                c->field[o++] = ch;
                c->pos++;
            } else {
                if (ch == ',' || ch == '\n' || ch == '\r') break;
                c->field[o++] = ch;
                c->pos++;
            }
        }
        c->field[o++] = 0;
        if (c->nf < 64) c->nf++;
        if (c->pos < c->len && c->buf[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len && c->buf[c->pos] == '\r') c->pos++;
        if (c->pos < c->len && c->buf[c->pos] == '\n') c->pos++;
        c->line++;
        return 1;
    }
}

static const char *csv_field(const csv *c, int i) { return c->field + c->off[i]; }

static int load_csv(sx_labelled *d, const char *path, int src, sx_err *err) {
    char *buf;
    size_t len;
    if (sx_read_file(path, MAX_FILE, &buf, &len, err)) return -1;
    csv c = {.buf = buf, .len = len, .line = 1};
    int rc = csv_next(&c), col_text = -1, col_class = -1, col_label = -1, col_tox = -1;
    if (rc != 1) {
        free(buf);
        free(c.field);
        return sx_fail(err, "%s: empty or malformed CSV header", path);
    }
    for (int i = 0; i < c.nf; i++) {
        const char *h = csv_field(&c, i);
        if (!strcmp(h, "tweet") || !strcmp(h, "text")) col_text = i;
        else if (!strcmp(h, "class")) col_class = i;
        else if (!strcmp(h, "label")) col_label = i;
        else if (!strcmp(h, "toxicity")) col_tox = i;
    }
    if (col_text < 0 || (col_class < 0 && col_label < 0 && col_tox < 0)) {
        free(buf);
        free(c.field);
        return sx_fail(err, "%s: CSV needs a tweet/text column and a class, label or toxicity column", path);
    }
    int ret = 0;
    for (;;) {
        long line = c.line;
        rc = csv_next(&c);
        if (rc == 0) break;
        if (rc < 0) {
            ret = sx_fail(err, "%s:%ld: malformed CSV record (unterminated quote)", path, line);
            break;
        }
        if (c.nf == 1 && !*csv_field(&c, 0)) continue; /* blank line */
        int need = col_text;
        if (col_class > need) need = col_class;
        if (col_label > need) need = col_label;
        if (col_tox > need) need = col_tox;
        if (c.nf <= need) {
            ret = sx_fail(err, "%s:%ld: %d fields, expected at least %d", path, line, c.nf, need + 1);
            break;
        }
        char *end;
        float score;
        if (col_class >= 0) {
            long k = strtol(csv_field(&c, col_class), &end, 10);
            if (*end || end == csv_field(&c, col_class) || k < 0 || k > 2) {
                ret = sx_fail(err, "%s:%ld: class '%s' is not 0, 1 or 2", path, line, csv_field(&c, col_class));
                break;
            }
            score = k == 2 ? 0.0f : 1.0f; /* 0 hate speech, 1 offensive: toxic; 2 neither */
        } else {
            int col = col_tox >= 0 ? col_tox : col_label;
            if (!*csv_field(&c, col)) continue; /* missing score */
            double v = strtod(csv_field(&c, col), &end);
            if (*end || v < 0 || v > 1) {
                ret = sx_fail(err, "%s:%ld: score '%s' is not a number in [0,1]", path, line, csv_field(&c, col));
                break;
            }
            score = (float)v;
        }
        const char *t = csv_field(&c, col_text);
        if ((ret = add(d, t, strlen(t), score, src, err))) break;
    }
    free(buf);
    free(c.field);
    return ret;
}

/* ---------- JSONL ---------- */
static const cJSON *path_get(const cJSON *o, const char *a, const char *b, const char *c) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (v && b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    if (v && c) v = cJSON_GetObjectItemCaseSensitive(v, c);
    return v;
}

/* Add one (text, score) pair from j; null/absent score: skipped.  Returns -1 on bad types. */
static int add_pair(sx_labelled *d, const cJSON *t, const cJSON *s, int src, const char *path,
                    long line, const char *what, sx_err *err) {
    if (!s || cJSON_IsNull(s)) return 0;
    if (!t || !cJSON_IsString(t))
        return sx_fail(err, "%s:%ld: %s text missing or not a string", path, line, what);
    if (cJSON_IsBool(s)) return add(d, t->valuestring, strlen(t->valuestring), cJSON_IsTrue(s) ? 1.0f : 0.0f, src, err);
    if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 1)
        return sx_fail(err, "%s:%ld: %s score is not a number in [0,1]", path, line, what);
    return add(d, t->valuestring, strlen(t->valuestring), (float)s->valuedouble, src, err);
}

static int load_jsonl(sx_labelled *d, const char *path, sx_lab_format fmt, int src, sx_err *err) {
    char *buf;
    size_t len;
    if (sx_read_file(path, MAX_FILE, &buf, &len, err)) return -1;
    int ret = 0;
    long line = 0;
    for (char *p = buf; p < buf + len && !ret;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
        line++;
        char *q = p;
        p += l + 1;
        while (l && (q[l - 1] == '\r' || q[l - 1] == ' ' || q[l - 1] == '\t')) l--;
        if (!l) continue;
        cJSON *j = sx_jsonl_parse(q, l, NULL);
        if (!j || !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            ret = sx_fail(err, "%s:%ld: not a JSON object", path, line);
            break;
        }
        if (fmt == SX_LAB_RTP) {
            ret = add_pair(d, path_get(j, "prompt", "text", NULL), path_get(j, "prompt", "toxicity", NULL), src, path, line, "prompt", err);
            if (!ret)
                ret = add_pair(d, path_get(j, "continuation", "text", NULL),
                               path_get(j, "continuation", "toxicity", NULL), src, path, line, "continuation", err);
        } else if (fmt == SX_LAB_DT) {
            ret = add_pair(d, path_get(j, "prompt", "text", NULL), path_get(j, "prompt", "score", "toxicity"), src, path, line, "prompt", err);
        } else {
            const cJSON *s = path_get(j, "toxicity", NULL, NULL);
            if (!s) s = path_get(j, "label", NULL, NULL);
            if (!s) s = path_get(j, "score", NULL, NULL);
            ret = add_pair(d, path_get(j, "text", NULL, NULL), s, src, path, line, "record", err);
        }
        cJSON_Delete(j);
    }
    free(buf);
    return ret;
}

/* Sniff a JSONL file's format from its first non-blank line. */
static int sniff_jsonl(const char *path, sx_lab_format *fmt, sx_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sx_fail(err, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t k;
    int ret = sx_fail(err, "%s: no records", path);
    while ((k = getline(&line, &cap, f)) > 0) {
        while (k && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' ')) k--;
        if (!k) continue;
        cJSON *j = sx_jsonl_parse(line, (size_t)k, NULL);
        if (!j) {
            ret = sx_fail(err, "%s:1: not JSON", path);
        } else if (path_get(j, "continuation", NULL, NULL)) {
            *fmt = SX_LAB_RTP;
            ret = 0;
        } else if (path_get(j, "prompt", "score", NULL)) {
            *fmt = SX_LAB_DT;
            ret = 0;
        } else if (path_get(j, "text", NULL, NULL)) {
            *fmt = SX_LAB_JSONL;
            ret = 0;
        } else {
            ret = sx_fail(err, "%s: unrecognised JSONL (want RTP, DecodingTrust, or text + toxicity/label)", path);
        }
        cJSON_Delete(j);
        break;
    }
    free(line);
    fclose(f);
    return ret;
}

int sx_labelled_load(sx_labelled *d, const char *spec, sx_err *err) {
    if (d->n_src >= SX_LAB_MAX_SOURCES) return sx_fail(err, "%s: more than %d data sources", spec, SX_LAB_MAX_SOURCES);
    static const struct { const char *p; sx_lab_format f; } P[] = {
        {"davidson:", SX_LAB_DAVIDSON}, {"csv:", SX_LAB_DAVIDSON}, {"rtp:", SX_LAB_RTP},
        {"dt:", SX_LAB_DT}, {"jsonl:", SX_LAB_JSONL}};
    sx_lab_format fmt = SX_LAB_AUTO;
    const char *path = spec;
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++)
        if (!strncmp(spec, P[i].p, strlen(P[i].p))) {
            fmt = P[i].f;
            path = spec + strlen(P[i].p);
        }
    char pbuf[1024];
    float weight = 1;
    snprintf(pbuf, sizeof pbuf, "%s", path);
    char *at = strrchr(pbuf, '@');
    if (at && !strchr(at, '/')) {
        char *end;
        double w = strtod(at + 1, &end);
        if (*end || end == at + 1 || !(w > 0)) return sx_fail(err, "%s: bad weight after '@'", spec);
        weight = (float)w;
        *at = 0;
    }
    if (!sx_file_exists(pbuf)) return sx_fail(err, "%s: no such file", pbuf);
    size_t pl = strlen(pbuf);
    if (fmt == SX_LAB_AUTO) {
        if (pl > 4 && !strcmp(pbuf + pl - 4, ".csv")) fmt = SX_LAB_DAVIDSON;
        else if (sniff_jsonl(pbuf, &fmt, err)) return -1;
    }
    int src = d->n_src;
    snprintf(d->src[src].path, sizeof d->src[src].path, "%s", pbuf);
    d->src[src].fmt = fmt;
    d->src[src].weight = weight;
    d->src[src].perspective = fmt == SX_LAB_RTP || fmt == SX_LAB_DT;
    d->n_src++;
    int64_t n0 = d->n;
    int rc = fmt == SX_LAB_DAVIDSON ? load_csv(d, pbuf, src, err) : load_jsonl(d, pbuf, fmt, src, err);
    if (rc) return -1;
    if (d->n == n0) return sx_fail(err, "%s: no labelled examples", pbuf);
    return 0;
}
