/* cmd_score_toxicity.c — `saetox score-toxicity`: add "toxicity": p to every JSONL record,
 * scored by the built-in scorer (default weights, or --weights) or by an external command
 * (--external-cmd: reads {"text": ...} lines on stdin, writes one score per line, either a
 * bare number or a JSON object with "toxicity"; that is how Detoxify or Perspective plug in).
 * Blank input lines are skipped; anything else that is not a JSON object is an error.  --in
 * also takes a text SOURCE (io.h): then each document becomes a record {"text": ...}. */
#include "cli.h"
#include "sx_json.h"
#include "io.h"
#include "steering.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "score-toxicity"

typedef struct {
    cJSON **rec;
    const char **text;
    long *line;
    int64_t n, cap;
} records;

static int push_record(records *r, cJSON *j, const char *text, long line, sx_err *err) {
    if (r->n == r->cap) {
        int64_t nc = r->cap ? 2 * r->cap : 1024;
        cJSON **nr = realloc(r->rec, sizeof(cJSON *) * (size_t)nc);
        if (nr) r->rec = nr;
        const char **nt = realloc(r->text, sizeof(char *) * (size_t)nc);
        if (nt) r->text = nt;
        long *nl = realloc(r->line, sizeof(long) * (size_t)nc);
        if (nl) r->line = nl;
        if (!nr || !nt || !nl) {
            cJSON_Delete(j);
            return sx_failc(err, SX_ENOMEM, "out of memory");
        }
        r->cap = nc;
    }
    r->rec[r->n] = j;
    r->text[r->n] = text;
    r->line[r->n] = line;
    r->n++;
    return 0;
}

/* A plain path: JSONL records (io's reader), kept whole for the output. */
static int read_records(const char *path, const char *field, records *r, sx_err *err) {
    sx_jsonl_reader *jr;
    if (sx_jsonl_open(path, &jr, err)) return -1;
    int ret = 0;
    cJSON *j;
    while ((ret = sx_jsonl_next(jr, &j, err)) == 1) {
        ret = 0;
        const cJSON *t = sx_json_path(j, field);
        if (!t || !cJSON_IsString(t)) {
            cJSON_Delete(j);
            ret = sx_failc(err, SX_ECORRUPT, "%s: field '%s' missing or not a string", sx_jsonl_where(jr), field);
            break;
        }
        if ((ret = push_record(r, j, t->valuestring, (long)sx_jsonl_line(jr), err))) break;
    }
    sx_jsonl_close(jr);
    return ret < 0 ? -1 : 0;
}

/* A SOURCE (io.h): one record {"text": doc} per document. */
static int read_source(const char *spec, records *r, sx_err *err) {
    sx_text_source *src;
    if (sx_source_open(spec, NULL, &src, err)) return -1;
    sx_doc d;
    int k;
    while ((k = sx_source_next(src, &d, err)) == 1) {
        cJSON *j = cJSON_CreateObject();
        cJSON *t = j ? cJSON_AddStringToObject(j, "text", d.text) : NULL;
        if (!t) {
            cJSON_Delete(j);
            k = sx_failc(err, SX_ENOMEM, "out of memory");
            break;
        }
        if (push_record(r, j, t->valuestring, 0, err)) {
            k = -1;
            break;
        }
    }
    sx_source_close(src);
    return k < 0 ? -1 : 0;
}

int cmd_score_toxicity(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *field = "text", *weights = NULL, *ext = NULL;
    int64_t threads = 0;
    cli_opt opts[] = {
        {"in", CLI_STR, &in, "F.jsonl|SOURCE", "input JSONL, one object per line; or a text SOURCE (jsonl:F#field, csv:F#col, text:F, archives: datasets/README.md), one {\"text\"} record per document", 1, 0},
        {"field", CLI_STR, &field, "NAME", "text field, dotted for nested (default text)", 0, 0},
        {"out", CLI_STR, &out, "F.jsonl", "output file (default stdout)", 0, 0},
        {"weights", CLI_STR, &weights, "FILE", "scorer weights (default: $SAETOX_SCORER, else the embedded default)", 0, 0},
        {"external-cmd", CLI_STR, &ext, "CMD", "score with a command: JSONL {\"text\"} on stdin, one score (or {\"toxicity\":p}) per line out", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
    };
    int rc = cli_parse(CMD, "Score texts for toxicity; writes each input record plus \"toxicity\": p in [0,1].",
                       opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    sx_set_threads((int)threads);
    sx_err err = {0};
    records r = {0};
    double *p = NULL;
    sx_scorer *s = NULL;
    int ret = 1;
    if (sx_source_is_spec(in) ? read_source(in, &r, &err) : read_records(in, field, &r, &err)) goto done;
    p = malloc(sizeof(double) * (size_t)(r.n + 1));
    if (ext) {
        if (sx_external_scores(ext, r.text, r.n, p, &err)) goto done;
    } else {
        if (weights ? sx_scorer_load(weights, &s, &err) : sx_scorer_load_default(&s, NULL, 0, &err)) goto done;
        sx_scorer_score_many(s, r.text, r.n, p);
    }
    sx_atomic_file af;
    FILE *f = stdout;
    if (out) {
        if (sx_atomic_open(&af, out, &err)) goto done;
        f = af.f;
    }
    for (int64_t i = 0; i < r.n; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(r.rec[i], "toxicity");
        cJSON_AddNumberToObject(r.rec[i], "toxicity", p[i]);
        char *s2 = cJSON_PrintUnformatted(r.rec[i]);
        fprintf(f, "%s\n", s2);
        free(s2);
    }
    if (out) {
        if (ferror(f)) {
            sx_atomic_abort(&af);
            sx_failc(&err, SX_EIO, "%s: write error", out);
            goto done;
        }
        if (sx_atomic_commit(&af, &err)) goto done;
    } else if (fflush(stdout)) {
        sx_failc(&err, SX_EIO, "stdout: write error");
        goto done;
    }
    ret = 0;
done:
    if (ret) fprintf(stderr, "saetox %s: %s\n", CMD, err.msg);
    for (int64_t i = 0; i < r.n; i++) cJSON_Delete(r.rec[i]);
    free(r.rec);
    free(r.text);
    free(r.line);
    free(p);
    sx_scorer_free(s);
    return ret;
}
