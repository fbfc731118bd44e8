/* external.c — an external toxicity scorer (Detoxify, Perspective, ...) as a command: we
 * write JSONL {"text": ...} to a temporary file, run `(CMD) < file`, and read one score per
 * output line: a bare number or a JSON object with "toxicity".  A temporary file rather than
 * a two-way pipe: no deadlock whatever the command buffers. */
#include "steering.h"
#include "io.h"
#include "sx_json.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sx_external_scores(const char *cmd, const char *const *texts, int64_t n, double *out, sx_err *err) {
    char tmpl[] = "/tmp/saetox-score-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) return sx_failc(err, SX_EIO, "cannot create a temporary file");
    FILE *f = fdopen(fd, "w");
    for (int64_t i = 0; i < n && f; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", texts[i] ? texts[i] : "");
        char *s = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    if (!f || fclose(f)) {
        unlink(tmpl);
        return sx_failc(err, SX_EIO, "cannot write the temporary file %s", tmpl);
    }
    size_t cl = strlen(cmd) + strlen(tmpl) + 32;
    char *full = malloc(cl);
    if (!full) {
        unlink(tmpl);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    snprintf(full, cl, "(%s) < '%s'", cmd, tmpl);
    fflush(NULL);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) {
        unlink(tmpl);
        return sx_failc(err, SX_EIO, "external scorer: cannot run '%s'", cmd);
    }
    char *line = NULL;
    size_t cap = 0;
    int64_t k = 0;
    int ret = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, p)) > 0) {
        if (ret) continue; /* drain */
        while (got && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (!got) continue;
        double v = -1;
        cJSON *j = sx_jsonl_parse(line, (size_t)got, NULL); /* one JSON value per line */
        if (j && cJSON_IsNumber(j)) v = j->valuedouble;
        else if (j && cJSON_IsObject(j) && cJSON_IsNumber(cJSON_GetObjectItem(j, "toxicity")))
            v = cJSON_GetObjectItem(j, "toxicity")->valuedouble;
        cJSON_Delete(j);
        if (!(v >= 0 && v <= 1))
            ret = sx_failc(err, SX_ECORRUPT, "external scorer '%s', output line %lld: not a score in [0,1]: '%.60s'", cmd,
                          (long long)k + 1, line);
        else if (k >= n)
            ret = sx_failc(err, SX_EIO, "external scorer '%s' printed more scores than the %lld inputs", cmd, (long long)n);
        else
            out[k++] = v;
    }
    free(line);
    int st = pclose(p);
    unlink(tmpl);
    if (ret) return -1;
    if (st != 0) return sx_failc(err, SX_EIO, "external scorer '%s' exited with status %d", cmd, st);
    if (k != n)
        return sx_failc(err, SX_EIO, "external scorer '%s' printed %lld scores for %lld inputs", cmd, (long long)k, (long long)n);
    return 0;
}
