/* sx_json.h — private: the cJSON helpers every module uses (typed getters with messages,
 * bounded file parse, JSONL lines that keep invalid UTF-8).  Not installed: the public
 * headers never include cJSON. */
#ifndef SAETOX_SX_JSON_H
#define SAETOX_SX_JSON_H

#include <cjson/cJSON.h>

#include "core.h"

/* ---------- JSON (cJSON) helpers (JSON Lines: sx_jsonl_parse, sx_jsonl_reader in io.h) ---------- */
cJSON *sx_json_parse_file(const char *path, size_t max_bytes, sx_err *err);
/* Typed getters.  Return 0 and set *out when present with the right type, 1 when absent or
 * JSON null (out untouched), -1 (with err naming ctx and key) when present with a wrong type. */
int sx_json_int(const cJSON *obj, const char *key, int64_t *out, const char *ctx, sx_err *err);
/* v is a JSON number holding an exact integer in [lo, hi] (bounds below 2^53): 0 and *out set,
 * else -1 (no message).  Every JSON number that becomes an integer goes through this. */
int sx_json_int_of(const cJSON *v, int64_t lo, int64_t hi, int64_t *out);
/* sx_json_int with a range: -1 (err names ctx, key and the range) when outside [lo, hi]. */
int sx_json_int_range(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
                      const char *ctx, sx_err *err);
int sx_json_num(const cJSON *obj, const char *key, double *out, const char *ctx, sx_err *err);
int sx_json_bool(const cJSON *obj, const char *key, int *out, const char *ctx, sx_err *err);
int sx_json_str(const cJSON *obj, const char *key, const char **out, const char *ctx,
                sx_err *err);
/* Follow a dotted path ("prompt.text") through nested objects; NULL when any step is
 * missing.  Paths longer than 255 bytes are cut there. */
const cJSON *sx_json_path(const cJSON *obj, const char *dotted);
/* Parse one JSON Lines record (len bytes, need not be NUL-terminated).  A NUL (raw byte or
 * \u0000) or a lone UTF-16 surrogate escape inside a string becomes U+FFFD and the rest of
 * the text is kept (cJSON alone cuts the string at a NUL and refuses lone surrogates).
 * *n_replaced (if not NULL) gets the count.  NULL when the line is not valid JSON. */
/* Write a JSON value to a file atomically (pretty printed). */
int sx_json_write_file(const char *path, const cJSON *json, sx_err *err);

#endif
