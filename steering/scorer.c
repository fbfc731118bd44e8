/* scorer.c — the toxicity scorer model: weights file format, loading (with the default-weights
 * lookup), and scoring.
 *
 * File layout (little-endian), "SXTOXSC1":
 *   0  char[8] magic "SXTOXSC1"      8  u32 file version (1)    12 u32 feature version
 *   16 u32 log2_buckets               20 u32 word_ngrams         24 u32 char_min
 *   28 u32 char_max                   32 u32 dtype (0 F32, 1 F16) 36 f32 bias
 *   40 u64 n_weights (== 1 << log2_buckets)
 *   48 weights [n_weights] F32 or F16
 *   end-8 u64 FNV-1a 64 checksum of every preceding byte. */
#include "steering.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "SXTOXSC1"
#define FILE_VERSION 1
#define HDR 48

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int cfg_check(const sx_scorer_cfg *c, const char *name, sx_err *err) {
    if (c->log2_buckets < 10 || c->log2_buckets > 24)
        return sx_failc(err, SX_EINVAL, "%s: log2_buckets %d outside 10..24", name, c->log2_buckets);
    if (c->word_ngrams < 1 || c->word_ngrams > 2)
        return sx_failc(err, SX_EINVAL, "%s: word_ngrams %d outside 1..2", name, c->word_ngrams);
    if (c->char_min < 0 || c->char_max > 8 || (c->char_min > 0 && c->char_max < c->char_min) ||
        (c->char_min == 0 && c->char_max != 0))
        return sx_failc(err, SX_EINVAL, "%s: bad character n-gram range %d..%d", name, c->char_min, c->char_max);
    return 0;
}

sx_scorer *sx_scorer_new(const sx_scorer_cfg *cfg, sx_err *err) {
    if (cfg_check(cfg, "scorer config", err)) return NULL;
    sx_scorer *s = calloc(1, sizeof *s);
    if (s) s->w = calloc((size_t)1 << cfg->log2_buckets, sizeof(float));
    if (!s || !s->w) {
        free(s);
        sx_failc(err, SX_ENOMEM, "out of memory for scorer weights");
        return NULL;
    }
    s->cfg = *cfg;
    return s;
}

void sx_scorer_free(sx_scorer *s) {
    if (!s) return;
    free(s->w);
    free(s);
}

int sx_scorer_serialise(const sx_scorer *s, int f16, unsigned char **buf, size_t *len,
                        sx_err *err) {
    size_t nw = (size_t)1 << s->cfg.log2_buckets, es = f16 ? 2 : 4;
    size_t n = HDR + nw * es + 8;
    unsigned char *b = malloc(n);
    if (!b) return sx_failc(err, SX_ENOMEM, "out of memory serialising the scorer");
    memcpy(b, MAGIC, 8);
    put32(b + 8, FILE_VERSION);
    put32(b + 12, SX_SCORER_FEAT_VERSION);
    put32(b + 16, (uint32_t)s->cfg.log2_buckets);
    put32(b + 20, (uint32_t)s->cfg.word_ngrams);
    put32(b + 24, (uint32_t)s->cfg.char_min);
    put32(b + 28, (uint32_t)s->cfg.char_max);
    put32(b + 32, f16 ? 1 : 0);
    put32(b + 36, fbits(s->bias));
    put64(b + 40, nw);
    for (size_t i = 0; i < nw; i++) {
        if (f16) {
            uint16_t h = sx_f32_to_f16(s->w[i]);
            b[HDR + 2 * i] = (unsigned char)h;
            b[HDR + 2 * i + 1] = (unsigned char)(h >> 8);
        } else {
            put32(b + HDR + 4 * i, fbits(s->w[i]));
        }
    }
    put64(b + n - 8, sx_fnv1a(SX_FNV_OFFSET, b, n - 8));
    *buf = b;
    *len = n;
    return 0;
}

int sx_scorer_save(const sx_scorer *s, const char *path, int f16, sx_err *err) {
    unsigned char *b;
    size_t n;
    if (sx_scorer_serialise(s, f16, &b, &n, err)) return -1;
    int rc = sx_write_file_atomic(path, b, n, err);
    free(b);
    return rc;
}

int sx_scorer_load_mem(const void *data, size_t len, const char *name, sx_scorer **out,
                       sx_err *err) {
    const unsigned char *b = data;
    if (len < 8 || memcmp(b, MAGIC, 8) != 0)
        return sx_failc(err, SX_ECORRUPT, "%s: not a saetox toxicity-scorer file (bad magic)", name);
    if (len < HDR + 8) return sx_failc(err, SX_ECORRUPT, "%s: truncated scorer file (%zu bytes)", name, len);
    if (get32(b + 8) != FILE_VERSION)
        return sx_failc(err, SX_EINVAL, "%s: scorer file version %u, expected %d", name, get32(b + 8), FILE_VERSION);
    if (get32(b + 12) != SX_SCORER_FEAT_VERSION)
        return sx_failc(err, SX_ECORRUPT, "%s: scorer feature version %u, this program has %d", name,
                       get32(b + 12), SX_SCORER_FEAT_VERSION);
    sx_scorer_cfg c = {(int)get32(b + 16), (int)get32(b + 20), (int)get32(b + 24), (int)get32(b + 28)};
    if (cfg_check(&c, name, err)) return -1;
    uint32_t dt = get32(b + 32);
    if (dt > 1) return sx_failc(err, SX_EINVAL, "%s: unknown weight dtype code %u", name, dt);
    uint64_t nw = get64(b + 40);
    if (nw != (1ULL << c.log2_buckets))
        return sx_failc(err, SX_ECORRUPT, "%s: %llu weights for 2^%d buckets", name, (unsigned long long)nw, c.log2_buckets);
    size_t es = dt ? 2 : 4, need = HDR + (size_t)nw * es + 8;
    if (len < need) return sx_failc(err, SX_ECORRUPT, "%s: truncated scorer file (%zu of %zu bytes)", name, len, need);
    if (len > need) return sx_failc(err, SX_ECORRUPT, "%s: %zu trailing bytes after the scorer weights", name, len - need);
    if (get64(b + need - 8) != sx_fnv1a(SX_FNV_OFFSET, b, need - 8))
        return sx_failc(err, SX_ECORRUPT, "%s: checksum mismatch (corrupt scorer file)", name);
    sx_scorer *s = sx_scorer_new(&c, err);
    if (!s) return -1;
    s->bias = bitsf(get32(b + 36));
    int bad = !isfinite(s->bias);
    for (size_t i = 0; i < nw; i++) {
        s->w[i] = dt ? sx_f16_to_f32((uint16_t)(b[HDR + 2 * i] | (b[HDR + 2 * i + 1] << 8)))
                     : bitsf(get32(b + HDR + 4 * i));
        bad |= !isfinite(s->w[i]);
    }
    if (bad) {
        sx_scorer_free(s);
        return sx_failc(err, SX_ENUMERIC, "%s: non-finite weight in scorer file", name);
    }
    *out = s;
    return 0;
}

int sx_scorer_load(const char *path, sx_scorer **out, sx_err *err) {
    char *buf;
    size_t len;
    if (sx_read_file(path, (size_t)1 << 30, &buf, &len, err)) return -1;
    int rc = sx_scorer_load_mem(buf, len, path, out, err);
    free(buf);
    return rc;
}

static int try_file(const char *path, sx_scorer **out, char *where, size_t wsz, sx_err *err) {
    if (!sx_file_exists(path)) return 1;
    if (sx_scorer_load(path, out, err)) return -1;
    if (where) snprintf(where, wsz, "%s", path);
    return 0;
}

static void dir_of(char *p) {
    char *s = strrchr(p, '/');
    if (s) *s = 0;
    else strcpy(p, ".");
}

int sx_scorer_load_default(sx_scorer **out, char *where, size_t wsz, sx_err *err) {
    const char *env = getenv("SAETOX_SCORER");
    if (env && *env) {
        if (sx_scorer_load(env, out, err)) return sx_fail_prefix(err, "$SAETOX_SCORER");
        if (where) snprintf(where, wsz, "%s ($SAETOX_SCORER)", env);
        return 0;
    }
    if (sx_scorer_embedded_len > 0) {
        if (sx_scorer_load_mem(sx_scorer_embedded, sx_scorer_embedded_len, "embedded scorer", out, err))
            return -1;
        if (where) snprintf(where, wsz, "embedded");
        return 0;
    }
    static const char *rel[] = {"../steering/weights/toxicity-scorer.bin",
                                "../share/saetox/toxicity-scorer.bin",
                                "../../steering/weights/toxicity-scorer.bin"};
    char exe[4096], path[4200 + 64];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        dir_of(exe);
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", exe, rel[i]);
            int rc = try_file(path, out, where, wsz, err);
            if (rc <= 0) return rc;
        }
    }
    /* The source tree this file was compiled from (CMake passes absolute paths). */
    char src[4096];
    snprintf(src, sizeof src, "%s", __FILE__);
    dir_of(src);
    snprintf(path, sizeof path, "%s/weights/toxicity-scorer.bin", src);
    int rc = try_file(path, out, where, wsz, err);
    if (rc <= 0) return rc;
    return sx_failc(err, SX_ENOTFOUND, "no default toxicity-scorer weights found (set $SAETOX_SCORER or pass --weights)");
}

double sx_scorer_score_feats(const sx_scorer *s, const sx_feats *f) {
    double z = s->bias;
    for (int i = 0; i < f->n; i++) z += (double)s->w[f->idx[i]] * f->val[i];
    return 1.0 / (1.0 + exp(-z));
}

double sx_scorer_score(const sx_scorer *s, const char *text, size_t len) {
    sx_feats f = {0};
    double p = sx_scorer_features(&s->cfg, text, len, &f) ? NAN : sx_scorer_score_feats(s, &f);
    sx_feats_free(&f);
    return p;
}

void sx_scorer_score_many(const sx_scorer *s, const char *const *texts, int64_t n, double *out) {
#pragma omp parallel
    {
        sx_feats f = {0};
#pragma omp for schedule(dynamic, 64)
        for (int64_t i = 0; i < n; i++) {
            const char *t = texts[i] ? texts[i] : "";
            out[i] = sx_scorer_features(&s->cfg, t, strlen(t), &f) ? NAN : sx_scorer_score_feats(s, &f);
        }
        sx_feats_free(&f);
    }
}
