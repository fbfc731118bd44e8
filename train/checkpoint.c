/* checkpoint.c — training checkpoints: OUT/checkpoint/ holds state.json (step, reader
 * position, RNG, normalisation, an options fingerprint) and sae_<i>.safetensors (parameters,
 * Adam moments, last-fired counters, BatchTopK threshold).  A new checkpoint is written
 * whole into OUT/checkpoint.tmp.<pid>/ and swapped in by renames, so a failed write (disk
 * full, permissions, or the SAETOX_FAIL_CHECKPOINT=STEP test hook that fails the write of
 * the checkpoint of that step) leaves the previous checkpoint intact. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_internal.h"
#include "sx_json.h"


static void rm_flat_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static int write_sae(const char *path, sx_tsae *t, sx_err *err) {
    sx_st_writer *w = sx_stw_new();
    if (!w) return sx_failc(err, SX_ENOMEM, "%s: out of memory", path);
    int64_t np[1] = {t->np}, m[1] = {t->m}, one[1] = {1};
    float thr = t->bt_threshold;
    int rc = sx_stw_meta(w, "sae", t->name, err) || sx_stw_add(w, "params", SX_F32, 1, np, t->p, err) ||
             sx_stw_add(w, "adam_m", SX_F32, 1, np, t->am, err) ||
             sx_stw_add(w, "adam_v", SX_F32, 1, np, t->av, err) ||
             sx_stw_add(w, "last_fired", SX_I64, 1, m, t->last_fired, err) ||
             sx_stw_add(w, "bt_threshold", SX_F32, 1, one, &thr, err) || sx_stw_write(w, path, err);
    sx_stw_free(w);
    return rc ? -1 : 0;
}

static int write_state(const char *path, const sx_ckpt_state *st, sx_err *err) {
    cJSON *j = cJSON_CreateObject();
    char buf[64];
    cJSON_AddNumberToObject(j, "step", (double)st->step);
    cJSON_AddNumberToObject(j, "rows_consumed", (double)st->rows_consumed);
    cJSON_AddNumberToObject(j, "skipped_batches", (double)st->skipped_batches);
    uint32_t bits;
    memcpy(&bits, &st->norm_scale, 4);
    snprintf(buf, sizeof buf, "%08" PRIx32, bits); /* exact float bits */
    cJSON_AddStringToObject(j, "norm_scale_bits", buf);
    cJSON_AddNumberToObject(j, "norm_scale", st->norm_scale);
    cJSON *r = cJSON_AddArrayToObject(j, "rng");
    for (int i = 0; i < 4; i++) {
        snprintf(buf, sizeof buf, "%016" PRIx64, st->rng[i]);
        cJSON_AddItemToArray(r, cJSON_CreateString(buf));
    }
    cJSON_AddStringToObject(j, "fingerprint", st->fingerprint);
    int rc = sx_json_write_file(path, j, err);
    cJSON_Delete(j);
    return rc;
}

int sx_ckpt_save(const char *out_dir, const sx_ckpt_state *st, sx_tsae *saes, int n, sx_err *err) {
    char fin[4200], tmp[4300], old[4300], p[4400];
    snprintf(fin, sizeof fin, "%s/checkpoint", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", fin, (long)getpid());
    snprintf(old, sizeof old, "%s.old", fin);
    rm_flat_dir(tmp);
    if (sx_mkdir_p(tmp, err)) return sx_fail_prefix(err, "checkpoint");
    const char *inj = getenv("SAETOX_FAIL_CHECKPOINT");
    int fail_now = inj && atoll(inj) == st->step;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        snprintf(p, sizeof p, "%s/sae_%d.safetensors", tmp, i);
        rc = write_sae(p, &saes[i], err);
        if (!rc && fail_now) rc = sx_failc(err, SX_EIO, "%s: write failed: injected failure (SAETOX_FAIL_CHECKPOINT)", p);
    }
    snprintf(p, sizeof p, "%s/state.json", tmp);
    if (!rc) rc = write_state(p, st, err);
    if (rc) {
        rm_flat_dir(tmp);
        return sx_fail_prefix(err, "checkpoint not written (the previous one is intact)");
    }
    rm_flat_dir(old);
    if (sx_is_dir(fin) && rename(fin, old) != 0) {
        rm_flat_dir(tmp);
        return sx_failc(err, SX_EIO, "%s: cannot move the old checkpoint aside: %s", fin, strerror(errno));
    }
    if (rename(tmp, fin) != 0) {
        int e = errno;
        if (sx_is_dir(old)) rename(old, fin);
        rm_flat_dir(tmp);
        return sx_failc(err, SX_EIO, "%s: cannot put the checkpoint in place: %s", fin, strerror(e));
    }
    rm_flat_dir(old);
    return 0;
}

static int read_state(const char *path, sx_ckpt_state *st, sx_err *err) {
    cJSON *j = sx_json_parse_file(path, 1 << 20, err);
    if (!j) return -1;
    int64_t v;
    const char *s;
    int rc = 0;
    memset(st, 0, sizeof *st);
    if (sx_json_int(j, "step", &st->step, path, err) || sx_json_int(j, "rows_consumed", &st->rows_consumed, path, err))
        rc = sx_failc(err, SX_ENOTFOUND, "%s: missing step or rows_consumed", path);
    if (!rc && sx_json_int(j, "skipped_batches", &v, path, err) == 0) st->skipped_batches = v;
    if (!rc && sx_json_str(j, "norm_scale_bits", &s, path, err) == 0) {
        uint32_t bits = (uint32_t)strtoul(s, NULL, 16);
        memcpy(&st->norm_scale, &bits, 4);
    } else if (!rc) {
        rc = sx_failc(err, SX_ENOTFOUND, "%s: missing norm_scale_bits", path);
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rng");
    for (int i = 0; !rc && i < 4; i++) {
        const cJSON *e = r ? cJSON_GetArrayItem(r, i) : NULL;
        if (!e || !cJSON_IsString(e)) rc = sx_failc(err, SX_EINVAL, "%s: bad rng state", path);
        else st->rng[i] = strtoull(e->valuestring, NULL, 16);
    }
    if (!rc && sx_json_str(j, "fingerprint", &s, path, err) == 0)
        snprintf(st->fingerprint, sizeof st->fingerprint, "%s", s);
    cJSON_Delete(j);
    return rc;
}

static int read_sae(const char *path, sx_tsae *t, sx_err *err) {
    sx_safetensors st;
    if (sx_st_open(&st, path, err)) return -1;
    int64_t np[1] = {t->np}, one[1] = {1};
    float thr = 0;
    int rc = sx_st_read_f32_into(&st, "params", 1, np, t->p, err) ||
             sx_st_read_f32_into(&st, "adam_m", 1, np, t->am, err) ||
             sx_st_read_f32_into(&st, "adam_v", 1, np, t->av, err) ||
             sx_st_read_f32_into(&st, "bt_threshold", 1, one, &thr, err);
    const sx_tensor_view *lf = rc ? NULL : sx_st_find(&st, "last_fired");
    if (!rc && (!lf || lf->dtype != SX_I64 || lf->ndim != 1 || lf->shape[0] != t->m))
        rc = sx_failc(err, SX_ECORRUPT, "%s: missing or malformed last_fired", path);
    if (!rc) memcpy(t->last_fired, lf->data, (size_t)t->m * sizeof(int64_t));
    t->bt_threshold = thr;
    t->wpack_fresh = 0;
    sx_st_close(&st);
    return rc ? -1 : 0;
}

int sx_ckpt_load(const char *out_dir, sx_ckpt_state *st, sx_tsae *saes, int n, sx_err *err) {
    char dir[4200], p[4400];
    snprintf(dir, sizeof dir, "%s/checkpoint", out_dir);
    if (!sx_is_dir(dir)) { /* a crash between the two renames leaves only .old */
        snprintf(dir, sizeof dir, "%s/checkpoint.old", out_dir);
        if (!sx_is_dir(dir)) return 0;
    }
    char want[512];
    snprintf(want, sizeof want, "%s", st->fingerprint);
    snprintf(p, sizeof p, "%s/state.json", dir);
    if (read_state(p, st, err)) return -1;
    if (strcmp(want, st->fingerprint) != 0)
        return sx_failc(err, SX_EINVAL, "%s: checkpoint was made with other options (%s; now %s)", p,
                       st->fingerprint, want);
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/sae_%d.safetensors", dir, i);
        if (read_sae(p, &saes[i], err)) return -1;
    }
    return 1;
}

/* kill -9 during sx_ckpt_save leaves OUT/checkpoint.tmp.<pid>/ behind.  Remove every such
 * folder whose process is gone (a live pid may be another run writing into the same folder;
 * that is a user error, but not ours to destroy). */
void sx_ckpt_clean_stale(const char *out_dir) {
    DIR *d = opendir(out_dir);
    if (!d) return;
    struct dirent *e;
    char p[4400];
    while ((e = readdir(d))) {
        const char *tail = strncmp(e->d_name, "checkpoint.tmp.", 15) == 0 ? e->d_name + 15 : NULL;
        char *end;
        long pid = tail && *tail ? strtol(tail, &end, 10) : 0;
        if (pid <= 0 || *end) continue;
        if (pid != (long)getpid() && kill((pid_t)pid, 0) == 0) continue; /* still running */
        if (pid != (long)getpid() && errno == EPERM) continue;            /* alive, not ours */
        snprintf(p, sizeof p, "%s/%s", out_dir, e->d_name);
        rm_flat_dir(p);
    }
    closedir(d);
}

/* Step of one metrics line: {"step":N,...} as write_metrics prints it; -1 when the line is
 * not one (a half-written last line after a kill). */
static int64_t metrics_line_step(const char *line, size_t n) {
    static const char key[] = "{\"step\":";
    if (n < sizeof key || memcmp(line, key, sizeof key - 1) || line[n - 1] != '\n') return -1;
    int64_t v = 0;
    size_t i = sizeof key - 1;
    if (i >= n || line[i] < '0' || line[i] > '9') return -1;
    for (; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (line[i] - '0');
    }
    return v;
}

/* After a kill the log holds the lines of the steps after the checkpoint that is resumed
 * from; the resumed run writes them again.  Keep the lines up to and including the
 * checkpoint's step (the log is in step order) and drop the rest, including a torn last
 * line.  The file is rewritten atomically, so a crash here loses nothing. */
int sx_metrics_truncate(const char *path, int64_t step, sx_err *err) {
    if (!sx_file_exists(path)) return 0;
    char *buf;
    size_t len;
    if (sx_read_file(path, (size_t)1 << 34, &buf, &len, err)) return -1;
    size_t keep = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : len - at;
        int64_t s = metrics_line_step(buf + at, n);
        if (s < 0 || s > step) break;
        at += n;
        keep = at;
    }
    int rc = keep == len ? 0 : sx_write_file_atomic(path, buf, keep, err);
    free(buf);
    return rc;
}
