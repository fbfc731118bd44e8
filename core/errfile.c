/* errfile.c — error messages, whole-file reads, directories, atomic writes. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SAETOX_DEFAULT_SHARED
#define SAETOX_DEFAULT_SHARED "../shared"
#endif

int sx_failc(sx_err *err, sx_code code, const char *fmt, ...) {
    if (!err) return -1;
    err->code = (int)code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int sx_fail(sx_err *err, const char *fmt, ...) {
    if (!err) return -1;
    err->code = SX_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *const CODE_NAME[SX_CODE_COUNT] = {
    "SX_OK", "SX_ERROR", "SX_ENOMEM", "SX_EIO", "SX_ENOTFOUND",
    "SX_ECORRUPT", "SX_EINVAL", "SX_EUNSUPPORTED", "SX_ENUMERIC"};
static const char *const CODE_TEXT[SX_CODE_COUNT] = {
    "no error", "error", "out of memory", "input/output error", "not found",
    "corrupt input", "invalid argument", "unsupported", "non-finite values"};

const char *sx_code_name(int code) {
    return code >= 0 && code < SX_CODE_COUNT ? CODE_NAME[code] : "SX_?";
}
sx_code sx_code_from_errno(int e) {
    if (e == ENOENT || e == ENOTDIR) return SX_ENOTFOUND;
    if (e == ENOMEM) return SX_ENOMEM;
    return SX_EIO;
}

const char *sx_code_text(int code) {
    return code >= 0 && code < SX_CODE_COUNT ? CODE_TEXT[code] : "unknown error code";
}

int sx_fail_prefix(sx_err *err, const char *fmt, ...) {
    if (!err) return -1;
    if (err->code == SX_OK) err->code = SX_ERROR;
    char old[SX_ERR_LEN];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k + 2 < sizeof err->msg)
        snprintf(err->msg + k, sizeof err->msg - (size_t)k, ": %s", old);
    return -1;
}

int sx_read_file(const char *path, size_t max_bytes, char **data, size_t *len, sx_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sx_failc(err, sx_code_from_errno(errno), "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sx_failc(err, SX_EINVAL, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        fclose(f);
        return sx_failc(err, SX_EINVAL, "%s: file is %lld bytes, more than the limit of %zu", path,
                       (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return sx_failc(err, SX_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return sx_failc(err, SX_EIO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    if (len) *len = n;
    return 0;
}

int sx_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int sx_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int sx_mkdir_p(const char *path, sx_err *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return sx_failc(err, SX_EINVAL, "%s: bad directory path", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return sx_failc(err, SX_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    if (!sx_is_dir(path)) return sx_failc(err, SX_EINVAL, "%s: exists and is not a directory", path);
    return 0;
}

int sx_path_join(char *out, size_t outsz, const char *dir, const char *name) {
    int k = snprintf(out, outsz, "%s/%s", dir, name);
    return (k < 0 || (size_t)k >= outsz) ? -1 : 0;
}

int sx_atomic_open(sx_atomic_file *af, const char *path, sx_err *err) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return sx_failc(err, SX_EINVAL, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) return sx_failc(err, SX_EIO, "%s: cannot create: %s", af->tmp_path, strerror(errno));
    return 0;
}

int sx_atomic_commit(sx_atomic_file *af, sx_err *err) {
    if (!af->f) return sx_failc(err, SX_EINVAL, "%s: not open", af->path);
    int bad = fflush(af->f) != 0 || ferror(af->f);
    if (!bad) bad = fsync(fileno(af->f)) != 0;
    int saved = errno;
    if (fclose(af->f) != 0) bad = 1;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp_path);
        return sx_failc(err, SX_EIO, "%s: write failed: %s", af->path, strerror(saved ? saved : EIO));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        saved = errno;
        unlink(af->tmp_path);
        return sx_failc(err, SX_EIO, "%s: cannot rename into place: %s", af->path, strerror(saved));
    }
    return 0;
}

void sx_atomic_abort(sx_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}

int sx_write_file_atomic(const char *path, const void *data, size_t len, sx_err *err) {
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        sx_atomic_abort(&af);
        return sx_failc(err, SX_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return sx_atomic_commit(&af, err);
}

const char *sx_shared_dir(void) {
    const char *env = getenv("SAETOX_SHARED");
    const char *dir = (env && *env) ? env : SAETOX_DEFAULT_SHARED;
    return sx_is_dir(dir) ? dir : NULL;
}

void sx_sae_label(const char *path, char *out, size_t outsz) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "");
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    /* a weights file names its folder */
    if ((!strcmp(base, "sae_weights.safetensors") || !strcmp(base, "params.npz") ||
         !strcmp(base, "cfg.json")) && base != buf) {
        base[-1] = 0;
        char *b2 = strrchr(buf, '/');
        base = b2 ? b2 + 1 : buf;
    }
    snprintf(out, outsz, "%s", *base ? base : "sae");
}
