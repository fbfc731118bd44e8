/* safetensors.c — memory-mapped, validated reader and an atomic writer for the Hugging Face
 * safetensors format: u64 LE header length N, N bytes of JSON, then raw little-endian data. */
#define _POSIX_C_SOURCE 200809L
#include "core.h"
#include "sx_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SX_ST_MAX_HEADER (100u << 20) /* same bound as the reference implementation */

typedef struct {
    size_t begin, end;
    int idx;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

static int parse_entry(sx_safetensors *st, const cJSON *e, sx_tensor_view *tv, size_t data_len,
                       span *sp, sx_err *err) {
    const char *path = st->path;
    if (!cJSON_IsObject(e)) return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': entry is not an object", path, e->string);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt)) return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': missing dtype", path, e->string);
    tv->dtype = sx_dtype_from_name(dt->valuestring);
    if (tv->dtype == SX_DT_INVALID)
        return sx_failc(err, SX_EUNSUPPORTED, "%s: tensor '%s': unknown dtype '%s'", path, e->string, dt->valuestring);
    if (!cJSON_IsArray(shape)) return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': missing shape", path, e->string);
    int nd = cJSON_GetArraySize(shape);
    if (nd > SX_MAX_DIMS) return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': %d dimensions (max %d)", path, e->string, nd, SX_MAX_DIMS);
    tv->ndim = nd;
    size_t numel = 1;
    for (int i = 0; i < nd; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (sx_json_int_of(d, 0, (int64_t)1e15, &tv->shape[i]))
            return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': bad shape entry", path, e->string);
        if (tv->shape[i] && numel > SIZE_MAX / (size_t)tv->shape[i])
            return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': shape overflows", path, e->string);
        numel *= (size_t)tv->shape[i];
    }
    tv->numel = numel;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': missing data_offsets", path, e->string);
    /* Exact integers within the data section (a NaN or 0.5 would otherwise pass the range
     * check and reach a size_t conversion). */
    int64_t b, en;
    if (sx_json_int_of(cJSON_GetArrayItem(offs, 0), 0, (int64_t)data_len, &b) ||
        sx_json_int_of(cJSON_GetArrayItem(offs, 1), b, (int64_t)data_len, &en))
        return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': data_offsets out of range or not integers (data is %zu bytes)",
                       path, e->string, data_len);
    size_t esz = sx_dtype_size(tv->dtype);
    if (numel > SIZE_MAX / esz || (size_t)(en - b) != numel * esz)
        return sx_failc(err, SX_ECORRUPT, "%s: tensor '%s': %zu bytes for %s of %zu elements (expected %zu)", path,
                       e->string, (size_t)(en - b), dt->valuestring, numel, numel * esz);
    sp->begin = (size_t)b;
    sp->end = (size_t)en;
    tv->nbytes = sp->end - sp->begin;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const sx_tensor_view *const *)a)->name, (*(const sx_tensor_view *const *)b)->name);
}

/* Two tensors of one name: sx_st_find would silently pick the first. -1 (err set) if so. */
static int dup_name(const sx_safetensors *st, sx_err *err) {
    if (st->n < 2) return 0;
    const sx_tensor_view **v = malloc(sizeof *v * (size_t)st->n);
    if (!v) return sx_failc(err, SX_ENOMEM, "%s: out of memory", st->path);
    for (int i = 0; i < st->n; i++) v[i] = &st->t[i];
    qsort(v, (size_t)st->n, sizeof *v, cmp_name);
    int rc = 0;
    for (int i = 1; i < st->n && !rc; i++)
        if (strcmp(v[i]->name, v[i - 1]->name) == 0)
            rc = sx_failc(err, SX_ECORRUPT, "%s: tensor '%.200s' appears twice in the header", st->path, v[i]->name);
    free(v);
    return rc;
}

int sx_st_open(sx_safetensors *st, const char *path, sx_err *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return sx_failc(err, sx_code_from_errno(errno), "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sx_failc(err, SX_EINVAL, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) {
        close(fd);
        return sx_failc(err, SX_ECORRUPT, "%s: truncated safetensors file (%zu bytes, need at least 8)", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return sx_failc(err, SX_EIO, "%s: cannot map: %s", path, strerror(errno));
#ifdef MADV_HUGEPAGE
    /* Weights are read whole at every decoding step (~0.5 GB for GPT-2 small in F32): on 4 KB
     * pages the dTLB misses cost ~7% of the CPU of `evaluate` at bench_eval's shape (Zen 5,
     * page cache in 2 MB folios vs 4 KB ones).  With this hint a page fault on a file that is
     * not yet cached reads it in 2 MB folios and maps them whole (where the kernel and file
     * system can: Linux 6.x, ext4/xfs); elsewhere it is ignored. */
    if (len >= ((size_t)4 << 20)) (void)madvise(map, len, MADV_HUGEPAGE);
#endif
    st->map = map;
    st->map_len = len;
    uint64_t hlen;
    memcpy(&hlen, map, 8);
    if (hlen > len - 8) {
        sx_failc(err, SX_ECORRUPT, "%s: header length %llu goes beyond the file size %zu (truncated or corrupt)",
                path, (unsigned long long)hlen, len);
        goto fail;
    }
    if (hlen > SX_ST_MAX_HEADER) {
        sx_failc(err, SX_ECORRUPT, "%s: header length %llu exceeds the 100 MB limit", path, (unsigned long long)hlen);
        goto fail;
    }
    const char *hdr = (const char *)map + 8;
    cJSON *root = cJSON_ParseWithLength(hdr, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        sx_failc(err, SX_ECORRUPT, "%s: header is not a JSON object", path);
        goto fail;
    }
    size_t data_len = len - 8 - (size_t)hlen;
    int count = 0;
    for (cJSON *e = root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) count++;
    st->t = calloc((size_t)count + 1, sizeof *st->t);
    span *spans = calloc((size_t)count + 1, sizeof *spans);
    if (!st->t || !spans) {
        free(spans);
        cJSON_Delete(root);
        sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    const unsigned char *data = (const unsigned char *)map + 8 + hlen;
    for (cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            /* cJSON keeps duplicate keys; a second copy would leak the first (found by
             * fuzz_safetensors) and leave which one counts to chance */
            if (st->metadata) {
                free(spans);
                cJSON_Delete(root);
                sx_failc(err, SX_ECORRUPT, "%s: __metadata__ appears twice in the header", path);
                goto fail;
            }
            st->metadata = cJSON_Duplicate(e, 1);
            continue;
        }
        sx_tensor_view *tv = &st->t[st->n];
        tv->name = strdup(e->string);
        st->n++;
        if (parse_entry(st, e, tv, data_len, &spans[st->n - 1], err)) {
            free(spans);
            cJSON_Delete(root);
            goto fail;
        }
        spans[st->n - 1].idx = st->n - 1;
        tv->data = data + spans[st->n - 1].begin;
    }
    cJSON_Delete(root);
    if (dup_name(st, err)) {
        free(spans);
        goto fail;
    }
    qsort(spans, (size_t)st->n, sizeof *spans, cmp_span);
    /* Zero-length tensors own no bytes and cannot overlap anything; among the others, each
     * must start at or after the furthest end seen so far (comparing only neighbours missed
     * an overlap when an empty tensor sat between two overlapping ones). */
    int far = -1;
    for (int i = 0; i < st->n; i++) {
        if (spans[i].end == spans[i].begin) continue;
        if (far >= 0 && spans[i].begin < spans[far].end) {
            sx_failc(err, SX_ECORRUPT, "%s: tensors '%s' and '%s' overlap in the data section", path,
                    st->t[spans[far].idx].name, st->t[spans[i].idx].name);
            free(spans);
            goto fail;
        }
        if (far < 0 || spans[i].end > spans[far].end) far = i;
    }
    free(spans);
    return 0;
fail:
    sx_st_close(st);
    return -1;
}

void sx_st_close(sx_safetensors *st) {
    if (st->t)
        for (int i = 0; i < st->n; i++) free(st->t[i].name);
    free(st->t);
    if (st->map) munmap(st->map, st->map_len);
    cJSON_Delete(st->metadata);
    st->t = NULL;
    st->map = NULL;
    st->metadata = NULL;
    st->n = 0;
}

const sx_tensor_view *sx_st_find(const sx_safetensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int check_view(const sx_safetensors *st, const char *name, int ndim, const int64_t *shape,
                      const sx_tensor_view **out, sx_err *err) {
    const sx_tensor_view *tv = sx_st_find(st, name);
    if (!tv) return sx_failc(err, SX_ENOTFOUND, "%s: missing tensor '%s'", st->path, name);
    int bad = tv->ndim != ndim;
    for (int i = 0; !bad && i < ndim; i++)
        if (shape[i] >= 0 && tv->shape[i] != shape[i]) bad = 1;
    if (bad) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, tv->ndim, tv->shape);
        return sx_failc(err, SX_EINVAL, "%s: tensor '%s' has shape %s, expected %s", st->path, name, got, want);
    }
    if (tv->dtype != SX_F32 && tv->dtype != SX_F16 && tv->dtype != SX_BF16 && tv->dtype != SX_F64)
        return sx_failc(err, SX_EINVAL, "%s: tensor '%s' has dtype %s, expected a float type", st->path, name,
                       sx_dtype_name(tv->dtype));
    *out = tv;
    return 0;
}

int sx_st_read_f32_into(const sx_safetensors *st, const char *name, int ndim,
                        const int64_t *shape, float *dst, sx_err *err) {
    const sx_tensor_view *tv;
    if (check_view(st, name, ndim, shape, &tv, err)) return -1;
    sx_to_f32(tv->data, tv->dtype, dst, tv->numel);
    return 0;
}

int sx_st_read_f32(const sx_safetensors *st, const char *name, int ndim, const int64_t *shape,
                   float **out, sx_err *err) {
    const sx_tensor_view *tv;
    if (check_view(st, name, ndim, shape, &tv, err)) return -1;
    float *buf = malloc((tv->numel ? tv->numel : 1) * sizeof(float));
    if (!buf) return sx_failc(err, SX_ENOMEM, "%s: out of memory for tensor '%s'", st->path, name);
    sx_to_f32(tv->data, tv->dtype, buf, tv->numel);
    *out = buf;
    return 0;
}

/* ---------- writer ---------- */
typedef struct {
    char *name;
    sx_dtype dt;
    int ndim;
    int64_t shape[SX_MAX_DIMS];
    const void *data;
    size_t nbytes;
} stw_entry;

struct sx_st_writer {
    stw_entry *e;
    int n, cap;
    cJSON *meta;
};

sx_st_writer *sx_stw_new(void) { return calloc(1, sizeof(sx_st_writer)); }

void sx_stw_free(sx_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    cJSON_Delete(w->meta);
    free(w);
}

int sx_stw_add(sx_st_writer *w, const char *name, sx_dtype dt, int ndim, const int64_t *shape,
               const void *data, sx_err *err) {
    if (ndim < 0 || ndim > SX_MAX_DIMS) return sx_failc(err, SX_EINVAL, "tensor '%s': bad ndim %d", name, ndim);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0) return sx_failc(err, SX_EINVAL, "tensor '%s' added twice", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        stw_entry *ne = realloc(w->e, (size_t)cap * sizeof *ne);
        if (!ne) return sx_failc(err, SX_ENOMEM, "out of memory");
        w->e = ne;
        w->cap = cap;
    }
    stw_entry *en = &w->e[w->n];
    memset(en, 0, sizeof *en);
    en->name = strdup(name);
    en->dt = dt;
    en->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        en->shape[i] = shape[i];
        numel *= (size_t)shape[i];
    }
    en->data = data;
    en->nbytes = numel * sx_dtype_size(dt);
    w->n++;
    return 0;
}

int sx_stw_meta(sx_st_writer *w, const char *key, const char *value, sx_err *err) {
    if (!w->meta) w->meta = cJSON_CreateObject();
    if (!w->meta) return sx_failc(err, SX_ENOMEM, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(w->meta, key);
    cJSON_AddStringToObject(w->meta, key, value);
    return 0;
}

/* The data order of sx_stw_layout and sx_stw_write: pass 0 holds the entries whose size is a
 * multiple of 64 bytes, pass 1 the others. */
static int stw_pass(const stw_entry *e) { return e->nbytes % 64 != 0; }

int sx_stw_layout(const sx_st_writer *w, char **head, size_t *head_bytes, uint64_t *offsets, sx_err *err) {
    *head = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) return sx_failc(err, SX_ENOMEM, "out of memory building a safetensors header");
    if (w->meta) cJSON_AddItemToObject(root, "__metadata__", cJSON_Duplicate(w->meta, 1));
    /* Data order: the entries whose size is a multiple of 64 bytes first (in the order they
     * were added), then the others, so that with the header padded below every tensor of the
     * first kind starts on a cache line (the format forbids holes between tensors, so this is
     * the only freedom there is).  The header lists the entries in the order they were added. */
    size_t off = 0, *at = malloc((size_t)(w->n ? w->n : 1) * sizeof *at);
    if (!at) {
        cJSON_Delete(root);
        return sx_failc(err, SX_ENOMEM, "out of memory building a safetensors header");
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < w->n; i++)
            if (stw_pass(&w->e[i]) == pass) at[i] = off, off += w->e[i].nbytes;
    for (int i = 0; i < w->n; i++) {
        const stw_entry *en = &w->e[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dtype", sx_dtype_name(en->dt));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < en->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)en->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)at[i]));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(at[i] + en->nbytes)));
        if (offsets) offsets[i] = at[i];
        cJSON_AddItemToObject(root, en->name, o);
    }
    free(at);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return sx_failc(err, SX_ENOMEM, "out of memory building a safetensors header");
    /* The header is padded with spaces (the format allows trailing whitespace) so that the data
     * starts at a multiple of 64 bytes of the file, i.e. of an mmap of it: the products read F32
     * weights in place with aligned 64-byte loads (core/gemm.c, kern_f32_direct).  With the
     * reference writer's 8 bytes, GPT-2-shaped weights sat at 32 mod 64 and every load split
     * two cache lines: the whole evaluate at bench_eval's shape took ~4% more CPU. */
    size_t hl = strlen(json), padded = ((8 + hl + 63) & ~(size_t)63) - 8;
    char *h = malloc(8 + padded);
    if (!h) {
        free(json);
        return sx_failc(err, SX_ENOMEM, "out of memory building a safetensors header");
    }
    uint64_t n = padded;
    memcpy(h, &n, 8);
    memcpy(h + 8, json, hl);
    memset(h + 8 + hl, ' ', padded - hl);
    free(json);
    for (int i = 0; offsets && i < w->n; i++) offsets[i] += 8 + padded;
    *head = h, *head_bytes = 8 + padded;
    return 0;
}

int sx_stw_write(sx_st_writer *w, const char *path, sx_err *err) {
    for (int i = 0; i < w->n; i++)
        if (w->e[i].nbytes && !w->e[i].data) return sx_failc(err, SX_EINVAL, "%s: tensor '%s' has no data", path, w->e[i].name);
    char *head;
    size_t hb;
    if (sx_stw_layout(w, &head, &hb, NULL, err)) return -1;
    sx_atomic_file af;
    if (sx_atomic_open(&af, path, err)) {
        free(head);
        return -1;
    }
    /* Written in 4 MB blocks at 4 MB-aligned offsets (stdio writes a full buffer, then whole
     * buffers straight from the data): the page cache then holds the file in 2 MB folios,
     * which a later mmap of it maps whole (sx_st_open); with stdio's 4 KB buffer the small
     * tensors and the ends of the large ones stayed in 4 KB pages (~25% of a GPT-2 file). */
    char *vbuf = malloc((size_t)4 << 20);
    if (vbuf) setvbuf(af.f, vbuf, _IOFBF, (size_t)4 << 20);
    int ok = fwrite(head, 1, hb, af.f) == hb;
    free(head);
    for (int pass = 0; pass < 2; pass++) /* the data order of sx_stw_layout */
        for (int i = 0; ok && i < w->n; i++)
            if (w->e[i].nbytes && stw_pass(&w->e[i]) == pass)
                ok = fwrite(w->e[i].data, 1, w->e[i].nbytes, af.f) == w->e[i].nbytes;
    if (!ok) {
        sx_atomic_abort(&af);
        free(vbuf);
        return sx_failc(err, SX_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    int rc = sx_atomic_commit(&af, err); /* closes the stream before its buffer goes */
    free(vbuf);
    return rc;
}
