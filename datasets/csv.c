/* csv.c — RFC 4180 records (quoted fields, "" escapes, newlines inside quotes, CRLF) read
 * from a ds_in stream, and HTML entity decoding for tweets (Davidson et al. store &amp;). */
#include <stdlib.h>
#include <string.h>

#include "ds_in.h"

static int push_field(ds_csv_rec *r) {
    if (r->n == r->cap) {
        int c = r->cap ? r->cap * 2 : 16;
        size_t *o = realloc(r->off, sizeof *o * (size_t)c);
        if (!o) return -1;
        r->off = o;
        r->cap = c;
    }
    r->off[r->n++] = r->text.len;
    return 0;
}

static int end_field(ds_csv_rec *r) {
    /* terminate the field: the NUL becomes part of text so the next field starts after it */
    if (ds_buf_add(&r->text, "", 0)) return -1;
    r->text.len++;
    return 0;
}

int ds_csv_read(ds_in *in, ds_csv_rec *r, int64_t *start_line, sx_err *err) {
    r->n = 0;
    r->text.len = 0;
    *start_line = in->line;
    int c = ds_in_getc(in, err);
    if (c == DS_ERR) return -1;
    if (c == DS_EOF) return 0;
    char ch;
    if (push_field(r)) goto oom;
    for (;;) {
        if (c == '"') { /* quoted field */
            for (;;) {
                c = ds_in_getc(in, err);
                if (c == DS_ERR) return -1;
                if (c == DS_EOF)
                    return sx_fail(err, "%s:%lld: unterminated quoted field", in->name,
                                   (long long)*start_line);
                if (c == '"') {
                    c = ds_in_getc(in, err);
                    if (c == DS_ERR) return -1;
                    if (c != '"') break; /* closing quote; c is the next byte */
                }
                if (c == '\n') in->line++;
                ch = (char)c;
                if (ds_buf_add(&r->text, &ch, 1)) goto oom;
            }
            /* tolerate bytes between the closing quote and the delimiter (kept as-is) */
        }
        while (c != ',' && c != '\n' && c != DS_EOF) {
            if (c == DS_ERR) return -1;
            if (c != '\r') {
                ch = (char)c;
                if (ds_buf_add(&r->text, &ch, 1)) goto oom;
            }
            c = ds_in_getc(in, err);
        }
        if (end_field(r)) goto oom;
        if (c == ',') {
            if (push_field(r)) goto oom;
            c = ds_in_getc(in, err);
            if (c == DS_ERR) return -1;
            continue;
        }
        if (c == '\n') in->line++;
        return 1;
    }
oom:
    return sx_fail(err, "%s:%lld: out of memory", in->name, (long long)*start_line);
}

void ds_csv_free(ds_csv_rec *r) {
    free(r->text.p);
    free(r->off);
    memset(r, 0, sizeof *r);
}

static size_t put_utf8(char *o, unsigned long cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
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

/* In place: the output never grows (every entity is longer than its UTF-8). */
size_t sx_html_unescape(char *s, size_t len) {
    static const struct { const char *name; const char *rep; } ents[] = {
        {"amp;", "&"}, {"lt;", "<"}, {"gt;", ">"}, {"quot;", "\""}, {"apos;", "'"},
        {"nbsp;", "\xC2\xA0"}};
    size_t i = 0, o = 0;
    while (i < len) {
        if (s[i] != '&') {
            s[o++] = s[i++];
            continue;
        }
        size_t rest = len - i - 1;
        const char *p = s + i + 1;
        int done = 0;
        if (rest >= 2 && p[0] == '#') {
            int hex = p[1] == 'x' || p[1] == 'X';
            size_t k = hex ? 2 : 1;
            unsigned long cp = 0;
            size_t digits = 0;
            while (k < rest && digits < 8) {
                char c = p[k];
                int v = c >= '0' && c <= '9' ? c - '0'
                      : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (v < 0) break;
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                k++;
                digits++;
            }
            if (digits && k < rest && p[k] == ';' && cp > 0 && cp <= 0x10FFFF &&
                !(cp >= 0xD800 && cp <= 0xDFFF)) {
                char u[4];
                size_t n = put_utf8(u, cp);
                memcpy(s + o, u, n);
                o += n;
                i += 1 + k + 1;
                done = 1;
            }
        } else {
            for (size_t e = 0; e < sizeof ents / sizeof ents[0] && !done; e++) {
                size_t n = strlen(ents[e].name);
                if (rest >= n && memcmp(p, ents[e].name, n) == 0) {
                    size_t m = strlen(ents[e].rep);
                    memcpy(s + o, ents[e].rep, m);
                    o += m;
                    i += 1 + n;
                    done = 1;
                }
            }
        }
        if (!done) s[o++] = s[i++];
    }
    if (o < len) s[o] = 0;
    return o;
}
