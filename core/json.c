/* json.c — small typed accessors over cJSON with errors that name the file and key. */
#include "core.h"
#include "sx_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cJSON *sx_json_parse_file(const char *path, size_t max_bytes, sx_err *err) {
    char *buf;
    size_t len;
    if (sx_read_file(path, max_bytes, &buf, &len, err)) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!j) {
        size_t at = end ? (size_t)(end - buf) : 0;
        sx_failc(err, SX_ECORRUPT, "%s: invalid JSON near byte %zu", path, at);
    }
    free(buf);
    return j;
}

static const cJSON *get(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

int sx_json_int(const cJSON *obj, const char *key, int64_t *out, const char *ctx, sx_err *err) {
    const cJSON *v = get(obj, key);
    if (!v) return 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9e15)
        return sx_failc(err, SX_EINVAL, "%s: '%s' must be an integer", ctx, key);
    *out = (int64_t)v->valuedouble;
    return 0;
}

int sx_json_int_of(const cJSON *v, int64_t lo, int64_t hi, int64_t *out) {
    /* Compare as doubles before converting: casting an out-of-range double (1e30, inf, NaN)
     * to an integer type is undefined behaviour. */
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return -1;
    *out = (int64_t)d;
    return 0;
}

int sx_json_int_range(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
                      const char *ctx, sx_err *err) {
    const cJSON *v = get(obj, key);
    if (!v) return 1;
    if (sx_json_int_of(v, lo, hi, out))
        return sx_failc(err, SX_EINVAL, "%s: '%s' must be an integer in [%lld, %lld]", ctx, key, (long long)lo,
                       (long long)hi);
    return 0;
}

int sx_json_num(const cJSON *obj, const char *key, double *out, const char *ctx, sx_err *err) {
    const cJSON *v = get(obj, key);
    if (!v) return 1;
    if (!cJSON_IsNumber(v)) return sx_failc(err, SX_EINVAL, "%s: '%s' must be a number", ctx, key);
    *out = v->valuedouble;
    return 0;
}

int sx_json_bool(const cJSON *obj, const char *key, int *out, const char *ctx, sx_err *err) {
    const cJSON *v = get(obj, key);
    if (!v) return 1;
    if (!cJSON_IsBool(v)) return sx_failc(err, SX_EINVAL, "%s: '%s' must be true or false", ctx, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int sx_json_str(const cJSON *obj, const char *key, const char **out, const char *ctx,
                sx_err *err) {
    const cJSON *v = get(obj, key);
    if (!v) return 1;
    if (!cJSON_IsString(v)) return sx_failc(err, SX_EINVAL, "%s: '%s' must be a string", ctx, key);
    *out = v->valuestring;
    return 0;
}

const cJSON *sx_json_path(const cJSON *obj, const char *dotted) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dotted);
    const cJSON *v = obj;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save))
        v = cJSON_GetObjectItemCaseSensitive(v, tok);
    return v;
}

int sx_json_write_file(const char *path, const cJSON *json, sx_err *err) {
    char *s = cJSON_Print(json);
    if (!s) return sx_failc(err, SX_ENOMEM, "%s: out of memory printing JSON", path);
    size_t n = strlen(s);
    s[n] = '\n'; /* cJSON_Print leaves the NUL; replace by newline and write n+1 bytes */
    int rc = sx_write_file_atomic(path, s, n + 1, err);
    free(s);
    return rc;
}
