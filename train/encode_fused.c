/* encode_fused.c — the TopK / BatchTopK encoder without a pre-activation matrix.
 *
 * The encoder product x_c W_enc (2*d*m FLOP per row, the step's floor) is computed in 8 x 48
 * register tiles from packed panels, and every tile is offered to the rows' top-C lists (and
 * the AuxK lists over dead latents) while it is still in registers.  Nothing of size B x m is
 * ever written, so the step is bound by the FMA units instead of by the memory traffic of
 * writing and re-reading B*m floats (268 MB per step at d 768, width 16384, batch 4096).
 *
 * Threads split the rows; each row's candidates are therefore found by one thread scanning
 * the latents in increasing order, with a fixed summation order over d: the result does not
 * depend on the thread count.  Blocking: a block of ENC_MC rows of packed x (1.5 MB at d 768)
 * stays in L2 while the latent panels stream past it once per block. */
#include "train_isa.h"

#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "encode_fused.h"
#include "topk_heap.h"
#include "train_internal.h"

#define ENC_MC 512 /* rows per L2-resident block of packed x (multiple of SX_ENC_MR) */

/* [n, d] row-major -> panels of `width` rows, each stored [d][width] (rows past n zero). */
static void pack_panels(const float *src, int n, int d, int width, float *dst, int par) {
    int np = (n + width - 1) / width;
#pragma omp parallel for schedule(static) if (par)
    for (int p = 0; p < np; p++) {
        float *pan = dst + (int64_t)p * d * width;
        for (int l = 0; l < width; l++) {
            int row = p * width + l;
            if (row < n)
                for (int i = 0; i < d; i++) pan[(int64_t)i * width + l] = src[(int64_t)row * d + i];
            else
                for (int i = 0; i < d; i++) pan[(int64_t)i * width + l] = 0.0f;
        }
    }
}

void sx_enc_pack_rows(const float *x, int B, int d, float *ap) {
    pack_panels(x, B, d, SX_ENC_MR, ap, sx_par((int64_t)B * d * 8));
}

void sx_enc_pack_latents(const float *w, int m, int d, float *wp) {
    pack_panels(w, m, d, SX_ENC_NR, wp, sx_par((int64_t)m * d));
}

/* Offer one row's 48 pre-activations (latents j0..j0+47) to its lists: the lanes in `cand`
 * to the top-C list, those in `aux` (dead latents) to the AuxK list, in increasing latent
 * order; each lane is re-checked against the floor, which rises as entries go in. */
static inline void offer_row(const float *pre, int j0, uint64_t cand, uint64_t aux, int row,
                             const sx_enc_sink *k, float *floor, float *afloor) {
    for (uint64_t todo = cand | aux; todo; todo &= todo - 1) {
        int q = __builtin_ctzll(todo);
        float x = pre[q];
        if (((cand >> q) & 1) && x > *floor)
            *floor = sx_sorted_offer(k->cand_val + (int64_t)row * k->cand_stride,
                                     k->cand_idx + (int64_t)row * k->cand_stride, &k->row_n[row], k->C, x, j0 + q);
        if (((aux >> q) & 1) && x > *afloor)
            *afloor = sx_sorted_offer(k->aux_val + (int64_t)row * k->aux_stride,
                                      k->aux_idx + (int64_t)row * k->aux_stride, &k->row_naux[row], k->kaux, x,
                                      j0 + q);
    }
}

#ifdef __AVX512F__
/* One 8 x 48 tile: 24 accumulators, per k one 48-float panel row and 8 broadcasts.
 * Epilogue: + b_enc, then a compare against each row's floors; only rows with a lane above
 * a floor (rare once the lists are full) leave the vector path. */
static void tile(const float *restrict a, const float *restrict b, int d, const float *bias, int j0,
                 uint64_t valid, uint64_t dead, int row0, int nrows, const sx_enc_sink *k, float *floor,
                 float *afloor) {
    __m512 c[SX_ENC_MR][3];
    for (int r = 0; r < SX_ENC_MR; r++) c[r][0] = c[r][1] = c[r][2] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < d; i++) {
        __m512 b0 = _mm512_load_ps(b + (int64_t)i * SX_ENC_NR), b1 = _mm512_load_ps(b + (int64_t)i * SX_ENC_NR + 16),
               b2 = _mm512_load_ps(b + (int64_t)i * SX_ENC_NR + 32);
        for (int r = 0; r < SX_ENC_MR; r++) {
            __m512 x = _mm512_set1_ps(a[(int64_t)i * SX_ENC_MR + r]);
            c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(x, b2, c[r][2]);
        }
    }
    __m512 bb0 = _mm512_loadu_ps(bias), bb1 = _mm512_loadu_ps(bias + 16), bb2 = _mm512_loadu_ps(bias + 32);
    __mmask16 v0 = (__mmask16)valid, v1 = (__mmask16)(valid >> 16), v2 = (__mmask16)(valid >> 32);
    __mmask16 d0 = (__mmask16)dead, d1 = (__mmask16)(dead >> 16), d2 = (__mmask16)(dead >> 32);
    for (int r = 0; r < nrows; r++) {
        __m512 x0 = _mm512_add_ps(c[r][0], bb0), x1 = _mm512_add_ps(c[r][1], bb1), x2 = _mm512_add_ps(c[r][2], bb2);
        __m512 f = _mm512_set1_ps(floor[r]), af = _mm512_set1_ps(afloor[r]);
        uint64_t cand = (uint64_t)_mm512_mask_cmp_ps_mask(v0, x0, f, _CMP_GT_OQ) |
                        (uint64_t)_mm512_mask_cmp_ps_mask(v1, x1, f, _CMP_GT_OQ) << 16 |
                        (uint64_t)_mm512_mask_cmp_ps_mask(v2, x2, f, _CMP_GT_OQ) << 32;
        uint64_t aux = (uint64_t)_mm512_mask_cmp_ps_mask(d0, x0, af, _CMP_GT_OQ) |
                       (uint64_t)_mm512_mask_cmp_ps_mask(d1, x1, af, _CMP_GT_OQ) << 16 |
                       (uint64_t)_mm512_mask_cmp_ps_mask(d2, x2, af, _CMP_GT_OQ) << 32;
        if (!(cand | aux)) continue;
        float pre[SX_ENC_NR];
        _mm512_storeu_ps(pre, x0), _mm512_storeu_ps(pre + 16, x1), _mm512_storeu_ps(pre + 32, x2);
        offer_row(pre, j0, cand, aux, row0 + r, k, &floor[r], &afloor[r]);
    }
}
#else
/* Portable tile (the compiler vectorises the inner loop over the panel's 48 latents). */
static void tile(const float *restrict a, const float *restrict b, int d, const float *bias, int j0,
                 uint64_t valid, uint64_t dead, int row0, int nrows, const sx_enc_sink *k, float *floor,
                 float *afloor) {
    float c[SX_ENC_MR][SX_ENC_NR];
    memset(c, 0, sizeof c);
    for (int i = 0; i < d; i++)
        for (int r = 0; r < SX_ENC_MR; r++) {
            float x = a[(int64_t)i * SX_ENC_MR + r];
            for (int l = 0; l < SX_ENC_NR; l++) c[r][l] += x * b[(int64_t)i * SX_ENC_NR + l];
        }
    for (int r = 0; r < nrows; r++) {
        for (int l = 0; l < SX_ENC_NR; l++) c[r][l] += bias[l];
        offer_row(c[r], j0, valid, dead, row0 + r, k, &floor[r], &afloor[r]); /* all lanes re-checked */
    }
}
#endif

void sx_encode_topk_fused(const float *ap, const float *wp, const float *b_enc, int B, int d, int m,
                          const uint64_t *dead_bits, const sx_enc_sink *k) {
    const int npan = (m + SX_ENC_NR - 1) / SX_ENC_NR, par = sx_par((int64_t)B * m);
    /* Row blocks of at most ENC_MC rows, at least one per thread, in whole tiles. */
    int nblk = (B + ENC_MC - 1) / ENC_MC, nt = par ? sx_get_threads() : 1;
    if (nblk < nt) nblk = nt;
    int mc = ((B + nblk - 1) / nblk + SX_ENC_MR - 1) / SX_ENC_MR * SX_ENC_MR;
    nblk = (B + mc - 1) / mc;
    for (int r = 0; r < B; r++) k->row_n[r] = 0, k->row_naux[r] = 0;
#pragma omp parallel for schedule(static) if (par)
    for (int blk = 0; blk < nblk; blk++) {
        int r0 = blk * mc, r1 = r0 + mc < B ? r0 + mc : B;
        float floor[ENC_MC], afloor[ENC_MC];
        for (int r = 0; r < ENC_MC; r++) floor[r] = 0.0f, afloor[r] = 0.0f;
        float bias[SX_ENC_NR];
        for (int p = 0; p < npan; p++) {
            int j0 = p * SX_ENC_NR, nl = m - j0 < SX_ENC_NR ? m - j0 : SX_ENC_NR;
            uint64_t valid = nl == 64 ? ~0ull : ((1ull << nl) - 1);
            uint64_t dead = k->kaux > 0 ? dead_bits[p] & valid : 0;
            for (int l = 0; l < SX_ENC_NR; l++) bias[l] = l < nl ? b_enc[j0 + l] : 0.0f;
            const float *b = wp + (int64_t)p * d * SX_ENC_NR;
            for (int r = r0; r < r1; r += SX_ENC_MR) {
                int nr = r1 - r < SX_ENC_MR ? r1 - r : SX_ENC_MR;
                tile(ap + (int64_t)(r / SX_ENC_MR) * d * SX_ENC_MR, b, d, bias, j0, valid, dead, r, nr, k,
                     floor + (r - r0), afloor + (r - r0));
            }
        }
    }
}
