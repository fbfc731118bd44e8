/* scorer_data.c — labelled toxicity text for the scorer: Davidson CSV (RFC 4180, quoted
 * newlines), RealToxicityPrompts JSONL (prompt and continuation, each with a Perspective
 * toxicity score, null scores skipped), DecodingTrust generations JSONL (prompt.text +
 * prompt.score.toxicity) and a generic JSONL (text + toxicity or label).
 *
 * The parsing is the io layer's (CSV table reader, JSONL reader); this file maps columns and
 * keys to (text, score) pairs. */
#include "io.h"
#include "steering.h"
#include "sx_json.h"

#include <stdlib.h>
#include <string.h>


static int add(sx_labelled *d, const char *text, size_t len, float score, int src, sx_err *err) {
    if (d->n == d->cap) {
        int64_t nc = d->cap ? d->cap * 2 : 4096;
        char **nt = realloc(d->text, sizeof(char *) * (size_t)nc);
        if (!nt) return sx_failc(err, SX_ENOMEM, "out of memory loading labelled text");
        d->text = nt;
        float *ns = realloc(d->score, sizeof(float) * (size_t)nc);
        if (!ns) return sx_failc(err, SX_ENOMEM, "out of memory loading labelled text");
        d->score = ns;
        int *nsrc = realloc(d->source, sizeof(int) * (size_t)nc);
        if (!nsrc) return sx_failc(err, SX_ENOMEM, "out of memory loading labelled text");
        d->source = nsrc;
        d->cap = nc;
    }
    char *t = malloc(len + 1);
    if (!t) return sx_failc(err, SX_ENOMEM, "out of memory loading labelled text");
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


/* ---------- CSV (io's reader, lenient: third-party files) ---------- */
static int load_csv(sx_labelled *d, const char *path, int src, sx_err *err) {
    sx_csv_table t;
    if (sx_csv_read_flags(path, SX_CSV_LENIENT, &t, err)) return -1;
    int col_text = -1, col_class = -1, col_label = -1, col_tox = -1;
    for (int i = 0; i < t.ncols; i++) {
        const char *h = t.header[i];
        if (!strcmp(h, "tweet") || !strcmp(h, "text")) col_text = i;
        else if (!strcmp(h, "class")) col_class = i;
        else if (!strcmp(h, "label")) col_label = i;
        else if (!strcmp(h, "toxicity")) col_tox = i;
    }
    if (col_text < 0 || (col_class < 0 && col_label < 0 && col_tox < 0)) {
        sx_csv_free(&t);
        return sx_failc(err, SX_EINVAL, "%s: CSV needs a tweet/text column and a class, label or toxicity column", path);
    }
    int ret = 0;
    for (int64_t r = 0; r < t.nrows && !ret; r++) {
        long line = (long)t.line[r];
        char *end;
        float score;
        if (col_class >= 0) {
            const char *k_s = sx_csv_cell(&t, r, col_class);
            long k = strtol(k_s, &end, 10);
            if (*end || end == k_s || k < 0 || k > 2) {
                ret = sx_failc(err, SX_ECORRUPT, "%s:%ld: class '%s' is not 0, 1 or 2", path, line, k_s);
                break;
            }
            score = k == 2 ? 0.0f : 1.0f; /* 0 hate speech, 1 offensive: toxic; 2 neither */
        } else {
            const char *v_s = sx_csv_cell(&t, r, col_tox >= 0 ? col_tox : col_label);
            if (!*v_s) continue; /* missing score */
            double v = strtod(v_s, &end);
            if (*end || v < 0 || v > 1) {
                ret = sx_failc(err, SX_ECORRUPT, "%s:%ld: score '%s' is not a number in [0,1]", path, line, v_s);
                break;
            }
            score = (float)v;
        }
        const char *tx = sx_csv_cell(&t, r, col_text);
        ret = add(d, tx, strlen(tx), score, src, err);
    }
    sx_csv_free(&t);
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
        return sx_failc(err, SX_ECORRUPT, "%s:%ld: %s text missing or not a string", path, line, what);
    if (cJSON_IsBool(s)) return add(d, t->valuestring, strlen(t->valuestring), cJSON_IsTrue(s) ? 1.0f : 0.0f, src, err);
    if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 1)
        return sx_failc(err, SX_ECORRUPT, "%s:%ld: %s score is not a number in [0,1]", path, line, what);
    return add(d, t->valuestring, strlen(t->valuestring), (float)s->valuedouble, src, err);
}

static int load_jsonl(sx_labelled *d, const char *path, sx_lab_format fmt, int src, sx_err *err) {
    sx_jsonl_reader *jr;
    if (sx_jsonl_open(path, &jr, err)) return -1;
    int ret = 0;
    cJSON *j;
    while (!ret && (ret = sx_jsonl_next(jr, &j, err)) == 1) {
        long line = (long)sx_jsonl_line(jr);
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
    sx_jsonl_close(jr);
    return ret < 0 ? -1 : 0;
}

/* Sniff a JSONL file's format from its first record. */
static int sniff_jsonl(const char *path, sx_lab_format *fmt, sx_err *err) {
    sx_jsonl_reader *jr;
    if (sx_jsonl_open(path, &jr, err)) return -1;
    cJSON *j;
    int r = sx_jsonl_next(jr, &j, err), ret = -1;
    if (r == 0) {
        ret = sx_fail(err, "%s: no records", path);
    } else if (r == 1) {
        if (path_get(j, "continuation", NULL, NULL)) *fmt = SX_LAB_RTP, ret = 0;
        else if (path_get(j, "prompt", "score", NULL)) *fmt = SX_LAB_DT, ret = 0;
        else if (path_get(j, "text", NULL, NULL)) *fmt = SX_LAB_JSONL, ret = 0;
        else ret = sx_failc(err, SX_ECORRUPT, "%s: unrecognised JSONL (want RTP, DecodingTrust, or text + toxicity/label)", path);
        cJSON_Delete(j);
    }
    sx_jsonl_close(jr);
    return ret;
}

/* SOURCE;score=FIELD or SOURCE;score=RULE (io.h text sources): FIELD's value is the score
 * (in [0,1]); a rule ("class<=1") gives 1 when it holds and 0 when not.  Documents without
 * the field are skipped, as null scores are. */
static int load_source(sx_labelled *d, const char *src_spec, const char *label, int src,
                       sx_err *err) {
    int is_rule = strpbrk(label, "<>=!") != NULL;
    char rule[1100];
    snprintf(rule, sizeof rule, is_rule ? "%s" : "%s>=0.5", label);
    sx_source_opts so = {.label_rule = rule};
    sx_text_source *ts;
    if (sx_source_open(src_spec, &so, &ts, err)) return -1;
    sx_doc doc;
    int r;
    while ((r = sx_source_next(ts, &doc, err)) == 1) {
        double v = is_rule ? (doc.is_toxic ? 1.0 : 0.0) : doc.score;
        if (!(v >= 0 && v <= 1)) {
            r = sx_failc(err, SX_EINVAL, "%s: score %g is not in [0,1]", doc.where, v);
            break;
        }
        if (add(d, doc.text, doc.len, (float)v, src, err)) {
            r = -1;
            break;
        }
    }
    sx_source_close(ts);
    return r < 0 ? -1 : 0;
}

int sx_labelled_load(sx_labelled *d, const char *spec, sx_err *err) {
    if (d->n_src >= SX_LAB_MAX_SOURCES) return sx_failc(err, SX_EINVAL, "%s: more than %d data sources", spec, SX_LAB_MAX_SOURCES);
    const char *sc = strstr(spec, ";score=");
    if (sc && sx_source_is_spec(spec)) {
        char sbuf[4096], lab[1024];
        float weight = 1;
        snprintf(sbuf, sizeof sbuf, "%.*s", (int)(sc - spec), spec);
        snprintf(lab, sizeof lab, "%s", sc + 7);
        char *at = strrchr(lab, '@');
        if (at) {
            char *end;
            double w = strtod(at + 1, &end);
            if (*end || end == at + 1 || !(w > 0)) return sx_failc(err, SX_EINVAL, "%s: bad weight after '@'", spec);
            weight = (float)w;
            *at = 0;
        }
        if (!*lab) return sx_failc(err, SX_EINVAL, "%s: empty field after ';score='", spec);
        int src = d->n_src;
        snprintf(d->src[src].path, sizeof d->src[src].path, "%.1000s", sbuf);
        d->src[src].fmt = SX_LAB_JSONL;
        d->src[src].weight = weight;
        d->src[src].perspective = 0;
        d->n_src++;
        int64_t n0 = d->n;
        if (load_source(d, sbuf, lab, src, err)) return -1;
        if (d->n == n0) return sx_fail(err, "%s: no labelled examples", sbuf);
        return 0;
    }
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
        if (*end || end == at + 1 || !(w > 0)) return sx_failc(err, SX_EINVAL, "%s: bad weight after '@'", spec);
        weight = (float)w;
        *at = 0;
    }
    if (!sx_file_exists(pbuf)) return sx_failc(err, SX_ENOTFOUND, "%s: no such file", pbuf);
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
