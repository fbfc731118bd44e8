/* archive.c — the byte input under every text source: plain files, globs, archives (.tar,
 * .tar.gz, .tar.zst, .zip, ...) and single compressed files (.gz, .zst, ...), all streamed
 * through libarchive without extracting anything to disk.  Member names are only matched
 * against the requested pattern and shown in messages; they never become output paths.
 * Every member (and every compressed file) is capped at max_entry_bytes, checked on the
 * declared size and again while reading, so an archive bomb stops with an error. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "io_in.h"

#define DEFAULT_CAP (2ull << 30)

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

int io_path_kind(const char *p) {
    static const char *arch[] = {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.xz",
                                 ".txz", ".tar.bz2", ".tbz2", ".zip"};
    static const char *comp[] = {".gz", ".zst", ".xz", ".bz2"};
    for (size_t i = 0; i < sizeof arch / sizeof arch[0]; i++)
        if (ends_with(p, arch[i])) return IO_ARCHIVE;
    for (size_t i = 0; i < sizeof comp / sizeof comp[0]; i++)
        if (ends_with(p, comp[i])) return IO_COMPRESSED;
    return IO_PLAIN;
}

int io_in_open(io_in *in, const char *pattern, const char *member, uint64_t cap, sx_err *err) {
    memset(in, 0, sizeof *in);
    in->cap = cap ? cap : DEFAULT_CAP;
    if (member && *member) in->member = strdup(member);
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        if (rc == 0) globfree(&g);
        return sx_failc(err, SX_ENOTFOUND, "%s: no such file%s", pattern, strpbrk(pattern, "*?[") ? " (no match)" : "");
    }
    if (rc != 0) return sx_fail(err, "%s: cannot expand the pattern", pattern);
    in->paths = calloc(g.gl_pathc, sizeof *in->paths);
    for (size_t i = 0; in->paths && i < g.gl_pathc; i++) in->paths[in->npaths++] = strdup(g.gl_pathv[i]);
    globfree(&g);
    in->ipath = -1;
    return in->paths ? 0 : sx_failc(err, SX_ENOMEM, "%s: out of memory", pattern);
}

static void close_current(io_in *in) {
    if (in->fp) fclose(in->fp);
    in->fp = NULL;
    if (in->a) archive_read_free(in->a);
    in->a = NULL;
}

void io_in_close(io_in *in) {
    close_current(in);
    for (int i = 0; i < in->npaths; i++) free(in->paths[i]);
    free(in->paths);
    free(in->member);
    memset(in, 0, sizeof *in);
}

void io_in_mem(io_in *in, const char *name, const char *data, size_t len) {
    memset(in, 0, sizeof *in);
    in->buf = (unsigned char *)(uintptr_t)data;
    in->len = len;
    in->eof = 1;
    in->line = 1;
    snprintf(in->name, sizeof in->name, "%s", name);
}

static int open_archive(io_in *in, const char *path, int raw, sx_err *err) {
    in->a = archive_read_new();
    archive_read_support_filter_all(in->a);
    if (raw) archive_read_support_format_raw(in->a);
    else archive_read_support_format_all(in->a);
    if (archive_read_open_filename(in->a, path, 1 << 16) != ARCHIVE_OK)
        return sx_failc(err, SX_EIO, "%s: cannot open archive: %s", path, archive_error_string(in->a));
    return 0;
}

/* Next member of the open archive matching the pattern: 1, 0 at its end, -1 error. */
static int next_member(io_in *in, sx_err *err) {
    const char *path = in->paths[in->ipath];
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(in->a, &e);
        if (r == ARCHIVE_EOF) return 0;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return sx_failc(err, SX_ECORRUPT, "%s: corrupt archive: %s", path, archive_error_string(in->a));
        if (in->kind == IO_COMPRESSED) {
            snprintf(in->name, sizeof in->name, "%s", path);
        } else {
            if (archive_entry_filetype(e) != AE_IFREG) continue;
            const char *mn = archive_entry_pathname(e);
            if (!mn) continue;
            if (in->member && fnmatch(in->member, mn, 0) != 0) continue;
            snprintf(in->name, sizeof in->name, "%s//%s", path, mn);
            if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) > in->cap)
                return sx_failc(err, SX_ECORRUPT, "%s: member declares %lld bytes, more than the limit of "
                               "%llu (archive bomb?)", in->name, (long long)archive_entry_size(e),
                               (unsigned long long)in->cap);
        }
        return 1;
    }
}

int io_in_next_file(io_in *in, sx_err *err) {
    in->pos = in->len = 0;
    in->eof = 0;
    in->nread = 0;
    in->line = 1;
    if (in->a && in->kind == IO_ARCHIVE) {
        int r = next_member(in, err);
        if (r < 0) return -1;
        if (r == 1) {
            in->matched_any = 1;
            return 1;
        }
        if (in->member && !in->matched_any)
            return sx_failc(err, SX_ENOTFOUND, "%s: no member matches '%s'", in->paths[in->ipath], in->member);
    }
    for (;;) {
        close_current(in);
        if (++in->ipath >= in->npaths) return 0;
        const char *path = in->paths[in->ipath];
        in->kind = io_path_kind(path);
        in->matched_any = 0;
        if (in->member && in->kind != IO_ARCHIVE)
            return sx_failc(err, SX_ECORRUPT, "%s: not an archive, so '//%s' cannot select a member", path,
                           in->member);
        if (in->kind == IO_PLAIN) {
            in->fp = fopen(path, "rb");
            if (!in->fp) return sx_failc(err, SX_EIO, "%s: cannot open: %s", path, strerror(errno));
            snprintf(in->name, sizeof in->name, "%s", path);
            return 1;
        }
        if (open_archive(in, path, in->kind == IO_COMPRESSED, err)) return -1;
        int r = next_member(in, err);
        if (r < 0) return -1;
        if (r == 1) {
            in->matched_any = 1;
            return 1;
        }
        if (in->member) return sx_failc(err, SX_ENOTFOUND, "%s: no member matches '%s'", path, in->member);
        /* an archive with no regular member: go on with the next path */
    }
}

/* Refill the buffer; returns bytes available, 0 at the end of the member, -1 error. */
static int64_t refill(io_in *in, sx_err *err) {
    if (in->eof) return 0;
    ssize_t n;
    if (in->fp) {
        n = (ssize_t)fread(in->store, 1, sizeof in->store, in->fp);
        if (n == 0 && ferror(in->fp)) return sx_failc(err, SX_EIO, "%s: read error: %s", in->name, strerror(errno));
    } else {
        n = archive_read_data(in->a, in->store, sizeof in->store);
        if (n < 0) return sx_failc(err, SX_ECORRUPT, "%s: cannot decompress: %s", in->name, archive_error_string(in->a));
    }
    if (n == 0) {
        in->eof = 1;
        return 0;
    }
    in->buf = in->store;
    in->nread += (uint64_t)n;
    if (in->nread > in->cap)
        return sx_failc(err, SX_ECORRUPT, "%s: more than %llu bytes after decompression (archive bomb?)",
                       in->name, (unsigned long long)in->cap);
    in->pos = 0;
    in->len = (size_t)n;
    return n;
}

int io_in_getc_slow(io_in *in, sx_err *err) {
    int64_t r = refill(in, err);
    if (r < 0) return IO_ERR;
    if (r == 0) return IO_EOF;
    return in->buf[in->pos++];
}

/* Append bytes up to and excluding '\n' (a trailing '\r' is dropped) to *s.
 * Returns 1 with a line, 0 at the end of the member (no line), -1 on error. */
int io_in_getline(io_in *in, io_buf *s, sx_err *err) {
    s->len = 0;
    int any = 0;
    for (;;) {
        if (in->pos == in->len) {
            int64_t r = refill(in, err);
            if (r < 0) return -1;
            if (r == 0) break;
        }
        any = 1;
        unsigned char *b = in->buf + in->pos, *nl = memchr(b, '\n', in->len - in->pos);
        size_t n = nl ? (size_t)(nl - b) : in->len - in->pos;
        if (io_buf_add(s, (const char *)b, n)) return sx_failc(err, SX_ENOMEM, "%s: out of memory", in->name);
        in->pos += n + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!any) return 0;
    if (s->len && s->p[s->len - 1] == '\r') s->len--;
    s->p[s->len] = 0;
    return 1;
}

/* The rest of the member as one text. */
int io_in_slurp(io_in *in, io_buf *s, sx_err *err) {
    s->len = 0;
    for (;;) {
        if (in->pos == in->len) {
            int64_t r = refill(in, err);
            if (r < 0) return -1;
            if (r == 0) break;
        }
        if (io_buf_add(s, (const char *)in->buf + in->pos, in->len - in->pos))
            return sx_failc(err, SX_ENOMEM, "%s: out of memory", in->name);
        in->pos = in->len;
    }
    if (io_buf_add(s, "", 0)) return sx_failc(err, SX_ENOMEM, "%s: out of memory", in->name);
    return 0;
}

int io_buf_add(io_buf *s, const char *p, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t c = s->cap ? s->cap : 256;
        while (c < s->len + n + 1) c *= 2;
        char *q = realloc(s->p, c);
        if (!q) return -1;
        s->p = q;
        s->cap = c;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = 0;
    return 0;
}
