/* jsonl.c — JSON Lines: one record into cJSON without losing text, and the line reader every
 * JSONL consumer uses (over the text-source input: files, globs, archives, compressed).
 * One record into cJSON without losing text:  cJSON ends a string at a
 * NUL (raw byte or \u0000: the rest of the document vanished silently) and refuses a lone
 * UTF-16 surrogate such as "\ud800" (which Python's json.dumps writes for broken text).  Our
 * choice: each of those becomes U+FFFD, the replacement character, and the rest of the text
 * is kept — as Python does when it encodes such a string with errors="replace". */
#include <inttypes.h>
#include <stdint.h>

#include <stdlib.h>
#include <string.h>

#include "io_in.h"
#include "sx_json.h"

static int hex4(const char *p, const char *end, unsigned *v) {
    if (end - p < 4) return 0;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        x = x * 16 + (unsigned)d;
    }
    *v = x;
    return 1;
}

static int needs_fixing(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!s[i] || (s[i] == '\\' && i + 1 < n && s[i + 1] == 'u')) return 1;
    return 0;
}

cJSON *sx_jsonl_parse(const char *line, size_t len, int *n_replaced) {
    if (n_replaced) *n_replaced = 0;
    if (!needs_fixing(line, len)) return cJSON_ParseWithLength(line, len);
    /* A raw NUL (1 byte) becomes the 3 UTF-8 bytes of U+FFFD; escapes keep their length. */
    char *b = malloc(len * 3 + 1);
    if (!b) return NULL;
    const char *end = line + len;
    size_t n = 0;
    int in_str = 0, fixed = 0;
    for (const char *p = line; p < end;) {
        unsigned u, u2;
        if (!*p) {
            memcpy(b + n, "\xEF\xBF\xBD", 3), n += 3, p++, fixed++;
        } else if (*p == '"') {
            in_str = !in_str, b[n++] = *p++;
        } else if (in_str && *p == '\\' && p + 1 < end && p[1] == 'u' && hex4(p + 2, end, &u)) {
            int pair = u >= 0xD800 && u < 0xDC00 && end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
                       hex4(p + 8, end, &u2) && u2 >= 0xDC00 && u2 < 0xE000;
            if (pair) {
                memcpy(b + n, p, 12), n += 12, p += 12;
            } else if (u == 0 || (u >= 0xD800 && u < 0xE000)) {
                memcpy(b + n, "\\ufffd", 6), n += 6, p += 6, fixed++;
            } else {
                memcpy(b + n, p, 6), n += 6, p += 6;
            }
        } else if (in_str && *p == '\\' && p + 1 < end) {
            b[n++] = *p++, b[n++] = *p++; /* \" \\ \n ...: the next byte is not a delimiter */
        } else {
            b[n++] = *p++;
        }
    }
    cJSON *j = cJSON_ParseWithLength(b, n);
    free(b);
    if (n_replaced) *n_replaced = fixed;
    return j;
}

struct sx_jsonl_reader {
    io_in in;
    int opened, in_file, broken;
    io_buf line;
    int64_t lineno;
    char where[8300];
};

int sx_jsonl_open(const char *path, sx_jsonl_reader **out, sx_err *err) {
    *out = NULL;
    sx_jsonl_reader *r = calloc(1, sizeof *r);
    if (!r) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    if (io_in_open(&r->in, path, NULL, 0, err)) {
        free(r);
        return -1;
    }
    r->opened = 1;
    *out = r;
    return 0;
}

int sx_jsonl_next(sx_jsonl_reader *r, cJSON **obj, sx_err *err) {
    *obj = NULL;
    r->broken = 1;
    for (;;) {
        if (!r->in_file) {
            int k = io_in_next_file(&r->in, err);
            if (k <= 0) return k;
            r->in_file = 1;
        }
        int k = io_in_getline(&r->in, &r->line, err);
        if (k < 0) return -1;
        if (k == 0) {
            r->in_file = 0;
            continue;
        }
        r->lineno = r->in.line++;
        size_t n = r->line.len;
        const char *p = r->line.p;
        if (r->lineno == 1 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3, n -= 3;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
        size_t a = 0;
        while (a < n && (p[a] == ' ' || p[a] == '\t')) a++;
        if (a == n) continue;
        snprintf(r->where, sizeof r->where, "%s:%" PRId64, r->in.name, r->lineno);
        cJSON *j = sx_jsonl_parse(p, n, NULL);
        if (!j || !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            r->broken = 0;
            return sx_failc(err, SX_ECORRUPT, "%s: not a JSON object", r->where);
        }
        r->broken = 0;
        *obj = j;
        return 1;
    }
}

int64_t sx_jsonl_line(const sx_jsonl_reader *r) { return r->lineno; }
const char *sx_jsonl_where(const sx_jsonl_reader *r) { return r->where; }
int sx_jsonl_broken(const sx_jsonl_reader *r) { return r->broken; }

void sx_jsonl_close(sx_jsonl_reader *r) {
    if (!r) return;
    if (r->opened) io_in_close(&r->in);
    free(r->line.p);
    free(r);
}
