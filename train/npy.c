/* npy.c — NumPy .npy / .npz readers for Gemma Scope params.npz.  The .npy header is a Python
 * dict literal; we parse exactly the subset NumPy writes (descr, fortran_order, shape) with
 * bounds checks everywhere, and reject anything else with a message naming the member. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "sae_internal.h"

#define NPZ_MAX_MEMBER ((size_t)1 << 34) /* 16 GiB: bigger than any SAE we could hold */
#define NPZ_MAX_MEMBERS 64

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes (all NumPy writes) into out. */
static int parse_str(cursor *c, char *out, size_t outsz) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= outsz) return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[n] = 0;
    return 0;
}

static int parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int parse_shape(cursor *c, int *ndim, int64_t *shape) {
    if (!eat(c, '(')) return -1;
    *ndim = 0;
    for (;;) {
        if (eat(c, ')')) return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_C(1) << 40)) return -1;
            v = v * 10 + (*c->p++ - '0');
        }
        if (*ndim >= SX_MAX_DIMS) return -1;
        shape[(*ndim)++] = v;
        if (!eat(c, ',')) {
            if (!eat(c, ')')) return -1;
            return 0;
        }
    }
}

static int parse_header(const char *h, size_t len, const char *ctx, char *descr, int *fortran,
                        int *ndim, int64_t *shape, sx_err *err) {
    cursor c = {h, h + len};
    int have_d = 0, have_f = 0, have_s = 0;
    if (!eat(&c, '{')) return sx_failc(err, SX_ECORRUPT, "%s: .npy header is not a dict", ctx);
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32];
        if (parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            return sx_failc(err, SX_ECORRUPT, "%s: malformed .npy header", ctx);
        if (strcmp(key, "descr") == 0) {
            if (parse_str(&c, descr, 16)) return sx_failc(err, SX_ECORRUPT, "%s: malformed .npy descr", ctx);
            have_d = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "False")) *fortran = 0;
            else if (parse_word(&c, "True")) *fortran = 1;
            else return sx_failc(err, SX_ECORRUPT, "%s: malformed .npy fortran_order", ctx);
            have_f = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(&c, ndim, shape)) return sx_failc(err, SX_ECORRUPT, "%s: malformed .npy shape", ctx);
            have_s = 1;
        } else {
            return sx_failc(err, SX_EINVAL, "%s: unexpected .npy header key '%s'", ctx, key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return sx_failc(err, SX_ECORRUPT, "%s: malformed .npy header", ctx);
            break;
        }
    }
    if (!have_d || !have_f || !have_s)
        return sx_failc(err, SX_ECORRUPT, "%s: .npy header lacks descr, fortran_order or shape", ctx);
    return 0;
}

/* The header of a .npy image: dtype, shape, element count and where the data starts.
 * Needs only the header bytes.  Returns 1 when buf is too short to hold the whole header
 * yet, 0 when parsed, -1 (err set) when malformed. */
static int npy_header(const unsigned char *buf, size_t len, const char *ctx, sx_npy_array *out,
                      sx_dtype *dt, size_t *data_off, sx_err *err) {
    if (len < 6 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return sx_failc(err, SX_ECORRUPT, "%s: not a .npy array (bad magic)", ctx);
    if (len < 10) return 1;
    int major = buf[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return 1;
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
               ((size_t)buf[11] << 24);
        hoff = 12;
    } else {
        return sx_failc(err, SX_EUNSUPPORTED, "%s: unsupported .npy version %d", ctx, major);
    }
    if (hlen > (1u << 20)) return sx_failc(err, SX_ECORRUPT, "%s: .npy header of %zu bytes is implausible", ctx, hlen);
    if (hlen > len - hoff) return 1;
    char descr[16] = {0};
    int fortran = -1;
    if (parse_header((const char *)buf + hoff, hlen, ctx, descr, &fortran, &out->ndim, out->shape,
                     err))
        return -1;
    if (fortran) return sx_failc(err, SX_EUNSUPPORTED, "%s: fortran_order arrays are not supported", ctx);
    if (strcmp(descr, "<f4") == 0) *dt = SX_F32;
    else if (strcmp(descr, "<f2") == 0) *dt = SX_F16;
    else if (strcmp(descr, "<f8") == 0) *dt = SX_F64;
    else return sx_failc(err, SX_EUNSUPPORTED, "%s: unsupported .npy dtype '%s' (want <f4, <f2 or <f8)", ctx, descr);
    size_t numel = 1;
    for (int i = 0; i < out->ndim; i++) {
        if (out->shape[i] > 0 && numel > ((size_t)1 << 40) / (size_t)out->shape[i])
            return sx_fail(err, "%s: .npy shape too large", ctx);
        numel *= (size_t)out->shape[i];
    }
    out->numel = numel;
    *data_off = hoff + hlen;
    return 0;
}

int sx_npy_parse(const unsigned char *buf, size_t len, const char *ctx, sx_npy_array *out,
                 sx_err *err) {
    memset(out, 0, sizeof *out);
    sx_dtype dt;
    size_t off;
    int rc = npy_header(buf, len, ctx, out, &dt, &off, err);
    if (rc) {
        out->numel = 0;
        return rc < 0 ? -1 : sx_failc(err, SX_ECORRUPT, "%s: truncated .npy header", ctx);
    }
    size_t numel = out->numel, need = numel * sx_dtype_size(dt), have = len - off;
    if (have != need) {
        out->numel = 0;
        return sx_fail(err, "%s: .npy data is %zu bytes, shape and dtype need %zu", ctx, have, need);
    }
    out->data = malloc((numel ? numel : 1) * sizeof(float));
    if (!out->data) {
        out->numel = 0;
        return sx_failc(err, SX_ENOMEM, "%s: out of memory", ctx);
    }
    sx_to_f32(buf + off, dt, out->data, numel);
    return 0;
}

void sx_npz_free(sx_npy_array *arrs, int n) {
    if (!arrs) return;
    for (int i = 0; i < n; i++) free(arrs[i].data);
    free(arrs);
}

/* Read one member.  The size in the zip header is only a claim (97-byte zips declared
 * 4 GB): the buffer grows with the bytes that really arrive (at most twice what was read),
 * and as soon as the .npy header is in, the size it implies must equal the declared one,
 * so memory stays bounded by what the archive really holds. */
static int read_member(struct archive *a, struct archive_entry *e, const char *path,
                       unsigned char **buf, size_t *len, sx_err *err) {
    const char *name = archive_entry_pathname(e);
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
        return sx_failc(err, SX_ENOTFOUND, "%s: member '%s' has no size", path, name);
    size_t sz = (size_t)archive_entry_size(e);
    if (sz > NPZ_MAX_MEMBER) return sx_failc(err, SX_ECORRUPT, "%s: member '%s' is too large", path, name);
    char ctx[4400];
    snprintf(ctx, sizeof ctx, "%s: %s", path, name);
    size_t cap = sz < 4096 ? sz : 4096, got = 0;
    int have_header = 0;
    unsigned char *b = malloc(cap ? cap : 1);
    if (!b) return sx_failc(err, SX_ENOMEM, "%s: out of memory for member '%s'", path, name);
    while (got < sz) {
        if (got == cap) {
            size_t nc = cap * 2 < sz ? cap * 2 : sz;
            unsigned char *nb = realloc(b, nc);
            if (!nb) {
                free(b);
                return sx_failc(err, SX_ENOMEM, "%s: out of memory for member '%s'", path, name);
            }
            b = nb, cap = nc;
        }
        la_ssize_t r = archive_read_data(a, b + got, cap - got);
        if (r < 0) {
            free(b);
            return sx_fail(err, "%s: member '%s': %s", path, name, archive_error_string(a));
        }
        if (r == 0) break;
        got += (size_t)r;
        if (!have_header && got >= 6) {
            sx_npy_array h;
            memset(&h, 0, sizeof h);
            sx_dtype dt;
            size_t off;
            int rc = npy_header(b, got, ctx, &h, &dt, &off, err);
            if (rc == 0 && off + h.numel * sx_dtype_size(dt) != sz)
                rc = sx_failc(err, SX_ECORRUPT, "%s: .npy header implies %zu bytes, the archive declares %zu", ctx,
                             off + h.numel * sx_dtype_size(dt), sz);
            if (rc < 0) {
                free(b);
                return -1;
            }
            have_header = rc == 0;
        }
    }
    if (got != sz) {
        free(b);
        return sx_failc(err, SX_ECORRUPT, "%s: member '%s' is truncated (%zu of the %zu bytes its header declares)",
                       path, name, got, sz);
    }
    *buf = b;
    *len = sz;
    return 0;
}

int sx_npz_read(const char *path, sx_npy_array **arrs, int *n, sx_err *err) {
    *arrs = NULL;
    *n = 0;
    struct archive *a = archive_read_new();
    if (!a) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    archive_read_support_format_zip(a);
    archive_read_support_filter_none(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        sx_failc(err, SX_EIO, "%s: cannot open as .npz (zip): %s", path, archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    sx_npy_array *out = calloc(NPZ_MAX_MEMBERS, sizeof *out);
    int cnt = 0, rc = 0;
    struct archive_entry *e;
    int r = ARCHIVE_EOF;
    while (out && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        size_t nl = name ? strlen(name) : 0;
        if (nl < 5 || strcmp(name + nl - 4, ".npy") != 0) continue;
        if (cnt >= NPZ_MAX_MEMBERS) {
            rc = sx_failc(err, SX_EINVAL, "%s: more than %d arrays", path, NPZ_MAX_MEMBERS);
            break;
        }
        unsigned char *buf = NULL;
        size_t len = 0;
        if (read_member(a, e, path, &buf, &len, err)) {
            rc = -1;
            break;
        }
        char ctx[4400];
        snprintf(ctx, sizeof ctx, "%s: %s", path, name);
        rc = sx_npy_parse(buf, len, ctx, &out[cnt], err);
        free(buf);
        if (rc) break;
        snprintf(out[cnt].name, sizeof out[cnt].name, "%.*s", (int)(nl - 4), name);
        cnt++;
    }
    if (!out) rc = sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    else if (!rc && r != ARCHIVE_EOF)
        rc = sx_failc(err, SX_ECORRUPT, "%s: corrupt .npz: %s", path, archive_error_string(a));
    archive_read_free(a);
    if (rc) {
        sx_npz_free(out, cnt);
        return -1;
    }
    if (cnt == 0) {
        sx_npz_free(out, cnt);
        return sx_failc(err, SX_ENOTFOUND, "%s: no .npy arrays in the archive", path);
    }
    *arrs = out;
    *n = cnt;
    return 0;
}
