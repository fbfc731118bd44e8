/* jsonl.c — one JSON Lines record into cJSON without losing text.  cJSON ends a string at a
 * NUL (raw byte or \u0000: the rest of the document vanished silently) and refuses a lone
 * UTF-16 surrogate such as "\ud800" (which Python's json.dumps writes for broken text).  Our
 * choice: each of those becomes U+FFFD, the replacement character, and the rest of the text
 * is kept — as Python does when it encodes such a string with errors="replace". */
#include "core.h"
#include "sx_json.h"

#include <stdlib.h>
#include <string.h>

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
