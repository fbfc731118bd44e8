/* html.c — the one HTML-entity decoder (policy in io.h): named entities, decimal and hex
 * references to UTF-8, in place. */
#include <string.h>

#include "io.h"

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The entity at p (just after '&', rest bytes): its code point and length (up to and with
 * the ';'), or 0 when it is not one we decode. */
static size_t entity(const char *p, size_t rest, uint32_t *cp) {
    static const struct {
        const char *name;
        uint32_t code;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''},
                {"nbsp;", 0xA0}};
    if (rest >= 2 && p[0] == '#') {
        int hex = p[1] == 'x' || p[1] == 'X';
        size_t k = hex ? 2 : 1, digits = 0;
        unsigned long v = 0;
        while (k < rest && digits <= 8) {
            char c = p[k];
            int d = c >= '0' && c <= '9' ? c - '0'
                  : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) break;
            if (digits < 8) v = v * (hex ? 16 : 10) + (unsigned long)d;
            k++;
            digits++;
        }
        if (digits == 0 || digits > 8 || k >= rest || p[k] != ';') return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        *cp = (uint32_t)v;
        return k + 1;
    }
    for (size_t e = 0; e < sizeof ents / sizeof ents[0]; e++) {
        size_t n = strlen(ents[e].name);
        if (rest >= n && memcmp(p, ents[e].name, n) == 0) {
            *cp = ents[e].code;
            return n;
        }
    }
    return 0;
}

size_t sx_html_entity(const char *s, size_t n, uint32_t *cp) {
    if (n < 2 || s[0] != '&') return 0;
    size_t k = entity(s + 1, n - 1, cp);
    return k ? k + 1 : 0;
}

/* In place: the output never grows (every entity is longer than its UTF-8). */
size_t sx_html_decode(char *s, size_t len, int flags) {
    size_t i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = s[i] == '&' ? entity(s + i + 1, len - i - 1, &cp) : 0;
        if (!n) {
            s[o++] = s[i++];
            continue;
        }
        if ((flags & SX_HTML_ASCII) && cp >= 0x80) cp = ' ';
        char u[4];
        size_t m = put_utf8(u, cp);
        memcpy(s + o, u, m);
        o += m;
        i += 1 + n;
    }
    if (o < len) s[o] = 0;
    return o;
}
