/* sae_write_lp.c — --parallel latents: every rank writes its own slice of an SAE into the one
 * sae_weights.safetensors (sx_mpi_file: MPI-IO, collective open and commit), so no rank ever
 * holds more than its slice, saving included: an SAE wider than one machine's memory is trained
 * and written without being assembled anywhere.
 *
 * The bytes are exactly those a single process writes (sx_tsae_export + sx_sae_save_meta): the
 * same header and tensor order, norm_scale folded the same way (b_enc or b_gate, b_mag, b_dec
 * and thresholds divided by s, the same float operations), which the latent-parallel tests
 * check byte for byte.
 *
 * Cost: the file once (4 (2 m d + ~3 m + d) bytes), each rank writing 1/N of it.  W_enc is
 * [d_in, d_sae] row-major, so a rank's part of it is d_in runs of m/N floats (one write each,
 * from an m/N-float transpose buffer; on a shared filesystem the runs of all ranks interleave in
 * the file, which MPI-IO exists to make safe); every other tensor is one run per rank. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sae_internal.h"
#include "sx_json.h"
#include "sx_mpi.h"
#include "train_internal.h"

/* Latent vector v[0..ml) of this rank, folded (v / s, or expf(v) / s for JumpReLU's log
 * thresholds, or the constant c / s when v is NULL), written at latents lat_off.. of a [M]
 * tensor that starts at file offset base. */
static int put_latents(sx_mpi_file *f, uint64_t base, const sx_tsae *t, const float *v, int expo, float c,
                       float s, float *buf) {
    for (int j = 0; j < t->m; j++) {
        float x = v ? (expo ? expf(v[j]) : v[j]) : c;
        buf[j] = s != 1.0f ? x / s : x;
    }
    return sx_mpi_file_write(f, (int64_t)base + (int64_t)t->lat_off * 4, buf, (int64_t)t->m * 4);
}

int sx_tsae_save_lp(const sx_tsae *t, const sx_sae *meta, const char *dir, const cJSON *extra, sx_err *err) {
    const int d = t->d, ml = t->m, M = t->m_full, me = sx_mpi_rank();
    const int gated = t->arch == SX_SAE_GATED;
    const int thr = t->arch == SX_SAE_JUMPRELU || t->arch == SX_SAE_BATCHTOPK || t->arch == SX_SAE_MATRYOSHKA;
    const float s = meta->norm_scale > 0 ? meta->norm_scale : 1.0f;
    char path[4200];
    if (sx_mpi_check(me == 0 ? sx_mkdir_p(dir, err) : 0, err)) return -1;
    if (sx_path_join(path, sizeof path, dir, "sae_weights.safetensors"))
        return sx_mpi_check(sx_failc(err, SX_EINVAL, "%s: path too long", dir), err);

    /* the layout, the same on every rank (no data: offsets only) */
    int64_t s_enc[2] = {d, M}, s_dec[2] = {M, d}, s_sae[1] = {M}, s_in[1] = {d};
    enum { E_WENC, E_BENC, E_RMAG, E_BMAG, E_WDEC, E_BDEC, E_THR, E_N };
    int at[E_N], n = 0;
    for (int i = 0; i < E_N; i++) at[i] = -1;
    sx_st_writer *w = sx_stw_new();
    char *head = NULL;
    size_t head_bytes = 0;
    uint64_t off[E_N];
    int rc = !w ? sx_failc(err, SX_ENOMEM, "%s: out of memory saving the SAE", dir) : 0;
    if (!rc) {
        rc = sx_stw_meta(w, "format", "pt", err) ||
             (at[E_WENC] = n++, sx_stw_add(w, "W_enc", SX_F32, 2, s_enc, NULL, err)) ||
             (at[E_BENC] = n++, sx_stw_add(w, gated ? "b_gate" : "b_enc", SX_F32, 1, s_sae, NULL, err)) ||
             (gated && (at[E_RMAG] = n++, sx_stw_add(w, "r_mag", SX_F32, 1, s_sae, NULL, err))) ||
             (gated && (at[E_BMAG] = n++, sx_stw_add(w, "b_mag", SX_F32, 1, s_sae, NULL, err))) ||
             (at[E_WDEC] = n++, sx_stw_add(w, "W_dec", SX_F32, 2, s_dec, NULL, err)) ||
             (at[E_BDEC] = n++, sx_stw_add(w, "b_dec", SX_F32, 1, s_in, NULL, err)) ||
             (thr && (at[E_THR] = n++, sx_stw_add(w, "threshold", SX_F32, 1, s_sae, NULL, err))) ||
             sx_stw_layout(w, &head, &head_bytes, off, err);
    }
    sx_stw_free(w);
    /* W_enc, W_dec; b_enc; b_dec; r_mag and b_mag (gated); threshold */
    const int64_t total = (int64_t)head_bytes + 4 * ((int64_t)2 * M * d + (int64_t)M + d + (int64_t)(gated ? 2 : 0) * M + (thr ? M : 0));
    float *buf = rc ? NULL : malloc((size_t)(ml > d ? ml : d) * sizeof(float));
    if (!rc && !buf) rc = sx_failc(err, SX_ENOMEM, "%s: out of memory saving the SAE", dir);
    if (sx_mpi_check(rc, err)) {
        free(head), free(buf);
        return -1;
    }

    sx_mpi_file f;
    if (sx_mpi_file_open(&f, path, total, err)) {
        free(head), free(buf);
        return -1;
    }
    if (me == 0) { /* the header and b_dec (the same on every rank) */
        sx_mpi_file_write(&f, 0, head, (int64_t)head_bytes);
        for (int i = 0; i < d; i++) buf[i] = s != 1.0f ? t->b_dec[i] / s : t->b_dec[i];
        sx_mpi_file_write(&f, (int64_t)off[at[E_BDEC]], buf, (int64_t)d * 4);
    }
    for (int i = 0; i < d; i++) { /* W_enc row i, columns lat_off.. (WencT is [ml, d]) */
        for (int j = 0; j < ml; j++) buf[j] = t->WencT[(int64_t)j * d + i];
        sx_mpi_file_write(&f, (int64_t)off[at[E_WENC]] + ((int64_t)i * M + t->lat_off) * 4, buf, (int64_t)ml * 4);
    }
    sx_mpi_file_write(&f, (int64_t)off[at[E_WDEC]] + (int64_t)t->lat_off * d * 4, t->W_dec, (int64_t)ml * d * 4);
    put_latents(&f, off[at[E_BENC]], t, t->b_enc, 0, 0, s, buf);
    if (gated) {
        put_latents(&f, off[at[E_RMAG]], t, t->r_mag, 0, 0, 1.0f, buf); /* r_mag is not folded */
        put_latents(&f, off[at[E_BMAG]], t, t->b_mag, 0, 0, s, buf);
    }
    if (thr) {
        if (t->arch == SX_SAE_JUMPRELU) put_latents(&f, off[at[E_THR]], t, t->log_thr, 1, 0, s, buf);
        else put_latents(&f, off[at[E_THR]], t, NULL, 0, t->bt_threshold, s, buf);
    }
    free(head), free(buf);
    if (sx_mpi_file_commit(&f, 0, err)) return -1;
    return sx_mpi_check(me == 0 ? sx_sae_save_cfg(meta, dir, extra, err) : 0, err);
}
