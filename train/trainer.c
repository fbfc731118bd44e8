/* trainer.c — the training loop: read each batch once, feed it to every SAE, log metrics,
 * checkpoint, resume, save SAELens folders. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "sx_json.h"
#include "sae_internal.h"
#include "sx_mpi.h"
#include "train_internal.h"

/* Under mpirun (core/sx_mpi.h) with --parallel data every rank reads the whole global batch
 * (the same shuffled stream from the shared cache), trains on its contiguous slice of rows
 * and sums its gradient with the others' inside the step (sx_step_ctx.dp); parameters, Adam
 * state and the data order stay identical on every rank, and rank 0 alone writes. */
static int g_parallel = SX_PAR_NONE;
void sx_train_set_parallel(int mode) { g_parallel = mode; }
int sx_train_get_parallel(void) { return g_parallel; }

/* Gated default sparsity coefficient at d_in 768 (scaled by sqrt(d_in/768) like ReLU's), on
 * inputs normalised to mean norm sqrt(d_in). */
#define GATED_L1 20.0

void sx_train_opts_default(sx_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->arch = SX_SAE_TOPK;
    o->batch = 4096;
    o->lr_warmup_frac = 0.05;
    o->lr_decay_frac = 0.2;
    o->l1_warmup_frac = 0.05;
    o->aux_coef = 1.0 / 32;
    o->aux_normalize = 1;
    o->jumprelu_eps = 0.001;
    o->jumprelu_init_threshold = 0.001;
    o->batchtopk_ema = 0.99;
    o->normalize = -1; /* auto: on for relu / jumprelu (their coefficient is scale-bound) */
    o->log_every = 50;
}

static int is_topk_family(sx_sae_arch a) {
    return a == SX_SAE_TOPK || a == SX_SAE_BATCHTOPK || a == SX_SAE_MATRYOSHKA;
}

static const char *cli_arch_name(sx_sae_arch a) {
    return a == SX_SAE_STANDARD ? "relu" : a == SX_SAE_MATRYOSHKA ? "matryoshka" : sx_sae_arch_name(a);
}

int sx_train_n_saes(const sx_train_opts *o) {
    int per = is_topk_family(o->arch) ? (o->n_k > 0 ? o->n_k : 1) : (o->n_l1 > 0 ? o->n_l1 : 1);
    return o->n_widths * per;
}

static void sae_params(const sx_train_opts *o, int i, int d_in, int *width, int *k, double *l1) {
    int per = is_topk_family(o->arch) ? (o->n_k > 0 ? o->n_k : 1) : (o->n_l1 > 0 ? o->n_l1 : 1);
    *width = o->widths[i / per];
    *k = is_topk_family(o->arch) ? (o->n_k > 0 ? o->ks[i % per] : 32) : 0;
    if (o->n_l1 > 0) *l1 = o->l1s[i % per];
    else if (o->arch == SX_SAE_STANDARD) *l1 = 5.0 * sqrt(d_in / 768.0);
    else if (o->arch == SX_SAE_GATED) *l1 = GATED_L1 * sqrt(d_in / 768.0);
    else *l1 = 0.01 * d_in;
}

void sx_train_sae_name(const sx_train_opts *o, int i, char *buf, int n) {
    int w, k;
    double l1;
    sae_params(o, i, 768, &w, &k, &l1);
    int len = snprintf(buf, (size_t)n, "%s-%d", cli_arch_name(o->arch), w);
    if (len < 0 || len >= n) return;
    if (is_topk_family(o->arch) && o->n_k > 1) snprintf(buf + len, (size_t)(n - len), "-k%d", k);
    if (!is_topk_family(o->arch) && o->n_l1 > 1) snprintf(buf + len, (size_t)(n - len), "-l1_%g", l1);
}

/* Matryoshka prefixes: strictly increasing, positive, the last equal to every width. */
static int validate_groups(const sx_train_opts *o, sx_err *err) {
    if (o->arch != SX_SAE_MATRYOSHKA) {
        if (o->n_groups > 0) return sx_failc(err, SX_EINVAL, "train: --groups applies to matryoshka only");
        return 0;
    }
    if (o->n_groups <= 0) return sx_failc(err, SX_EINVAL, "train: matryoshka needs --groups W1,..,WIDTH (nested prefix widths)");
    if (o->n_groups > SX_SAE_MAX_GROUPS) return sx_failc(err, SX_EINVAL, "train: at most %d matryoshka groups", SX_SAE_MAX_GROUPS);
    for (int g = 0; g < o->n_groups; g++) {
        if (o->groups[g] <= 0) return sx_failc(err, SX_EINVAL, "train: --groups: width %d is not positive", o->groups[g]);
        if (g > 0 && o->groups[g] <= o->groups[g - 1])
            return sx_failc(err, SX_EINVAL, "train: --groups must be strictly increasing (%d then %d)", o->groups[g - 1], o->groups[g]);
    }
    for (int w = 0; w < o->n_widths; w++)
        if (o->groups[o->n_groups - 1] != o->widths[w])
            return sx_failc(err, SX_EINVAL, "train: --groups must end at the width (last group %d, width %d)",
                           o->groups[o->n_groups - 1], o->widths[w]);
    return 0;
}

static int validate(const sx_train_opts *o, int d_in, sx_err *err) {
    if (!o->out_dir) return sx_failc(err, SX_EINVAL, "train: no output folder");
    if (o->n_widths <= 0) return sx_failc(err, SX_EINVAL, "train: no widths given");
    if (o->n_widths > SX_TRAIN_MAX_SAES || sx_train_n_saes(o) > SX_TRAIN_MAX_SAES)
        return sx_failc(err, SX_EINVAL, "train: at most %d SAEs per run", SX_TRAIN_MAX_SAES);
    if (d_in <= 0) return sx_failc(err, SX_EINVAL, "train: input width %d is not positive", d_in);
    for (int i = 0; i < o->n_widths; i++)
        if (o->widths[i] <= 0) return sx_failc(err, SX_EINVAL, "train: width %d is not positive", o->widths[i]);
    for (int i = 0; i < o->n_k; i++) {
        if (o->ks[i] <= 0) return sx_failc(err, SX_EINVAL, "train: k %d is not positive", o->ks[i]);
        for (int w = 0; w < o->n_widths; w++)
            if (o->ks[i] > o->widths[w])
                return sx_failc(err, SX_EINVAL, "train: k %d is larger than width %d", o->ks[i], o->widths[w]);
    }
    if (is_topk_family(o->arch) && o->n_k == 0)
        for (int w = 0; w < o->n_widths; w++)
            if (o->widths[w] < 32) return sx_failc(err, SX_EINVAL, "train: default k 32 is larger than width %d (give --k)", o->widths[w]);
    for (int i = 0; i < o->n_l1; i++)
        if (!(o->l1s[i] >= 0) || !isfinite(o->l1s[i])) return sx_failc(err, SX_EINVAL, "train: sparsity coefficient %g is not >= 0", o->l1s[i]);
    if (o->batch <= 0 || o->batch > (1 << 20)) return sx_failc(err, SX_EINVAL, "train: batch %lld out of range", (long long)o->batch);
    if (o->tokens < o->batch) return sx_failc(err, SX_EINVAL, "train: --tokens %lld is less than one batch (%lld)", (long long)o->tokens, (long long)o->batch);
    return validate_groups(o, err);
}

/* Fill B rows, asking the source again when it returns short (it loops over epochs). */
static int read_batch(sx_batch_source *src, float *x, int64_t B, sx_err *err) {
    int64_t got = 0;
    int empty = 0;
    while (got < B) {
        int64_t n = src->next(src->ctx, x + got * src->d_in, B - got, err);
        if (n < 0) return -1;
        if (n == 0 && ++empty > 1) return sx_failc(err, SX_ENOTFOUND, "%s: no rows to read", src->name);
        got += n;
    }
    return 0;
}

static int64_t first_nonfinite(const float *x, int64_t n) {
    int64_t bad = -1;
#pragma omp parallel for schedule(static) reduction(max : bad)
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]) && i > bad) bad = i;
    return bad;
}

static void write_metrics(FILE *f, sx_tsae *t, int64_t step, int64_t tokens, double var_sum, double lr,
                          double lam_scale, double tps) {
    const double B = (double)t->rows;
    fprintf(f,
            "{\"step\":%lld,\"tokens\":%lld,\"sae\":\"%s\",\"mse\":%.6g,\"fvu\":%.6g,\"l0\":%.6g,"
            "\"dead_frac\":%.6g,\"mean_max_act\":%.6g,\"lr\":%.6g,\"tokens_per_s\":%.6g,\"loss\":%.6g",
            (long long)step, (long long)tokens, t->name, t->mse_sum / (B * t->d),
            var_sum > 0 ? t->mse_sum / var_sum : 0.0, t->l0_sum / B, (double)t->n_dead / t->m_full,
            t->maxact_sum / B, lr, tps, t->loss);
    if (is_topk_family(t->arch) || t->arch == SX_SAE_GATED) fprintf(f, ",\"aux_loss\":%.6g", t->aux_loss);
    if (!is_topk_family(t->arch)) fprintf(f, ",\"sparsity_loss\":%.6g,\"sparsity_coef\":%.6g", t->sparsity_loss, t->l1 * lam_scale);
    if (t->arch == SX_SAE_BATCHTOPK || t->arch == SX_SAE_MATRYOSHKA) fprintf(f, ",\"threshold\":%.6g", t->bt_threshold);
    if (t->arch == SX_SAE_MATRYOSHKA) /* the innermost prefix alone */
        fprintf(f, ",\"fvu_group0\":%.6g", var_sum > 0 ? t->group_mse[0] / var_sum : 0.0);
    fprintf(f, "}\n");
}

typedef struct run {
    const sx_train_opts *o;
    sx_batch_source *src;
    int n, d, any_dense, k_max, m_max, aux_k;
    sx_tsae saes[SX_TRAIN_MAX_SAES];
    double base_lr[SX_TRAIN_MAX_SAES];
    sx_scratch scr;
    float *x;
    int64_t steps, dead_tokens;
    sx_ckpt_state st;
    sx_rng rng;
    FILE *metrics;
    int dp, lp, me, P;    /* data / latent parallel; this rank; ranks */
    char ckdir[4200];     /* where checkpoints go: OUT, or under latents OUT/ranks/K-of-N */
    int64_t lo, hi;       /* this rank's rows of each batch */
} run;

static int run_setup(run *R, sx_err *err) {
    const sx_train_opts *o = R->o;
    R->d = R->src->d_in;
    R->n = sx_train_n_saes(o);
    for (int i = 0; i < R->n; i++) {
        int w, k;
        double l1;
        char name[64];
        sae_params(o, i, R->d, &w, &k, &l1);
        sx_train_sae_name(o, i, name, sizeof name);
        int wl = R->lp ? w / R->P : w; /* --parallel latents: this rank's slice */
        if (sx_tsae_init(&R->saes[i], o->arch, R->d, wl, k, l1, name, err)) return -1;
        R->saes[i].lat_off = R->lp ? wl * R->me : 0, R->saes[i].m_full = w;
        R->saes[i].groups[0] = w; /* one group: the whole width (matryoshka sets its own below) */
        if (o->arch == SX_SAE_MATRYOSHKA) {
            R->saes[i].n_groups = o->n_groups;
            memcpy(R->saes[i].groups, o->groups, (size_t)o->n_groups * sizeof(int));
        }
        R->base_lr[i] = o->lr > 0 ? o->lr : fmin(4e-3, fmax(5e-5, 2e-4 * sqrt(16384.0 / w)));
        if (w > R->m_max) R->m_max = w;
        if (k > R->k_max) R->k_max = k;
    }
    R->any_dense = !is_topk_family(o->arch);
    R->aux_k = o->aux_k > 0 ? o->aux_k : (R->d / 2 > 0 ? R->d / 2 : 1);
    R->steps = o->tokens / o->batch;
    R->dead_tokens = o->dead_tokens > 0 ? o->dead_tokens
                                        : (int64_t)fmin(1e7, fmax((double)o->batch, (double)o->tokens / 8));
    if (sx_scratch_init(&R->scr, (int)o->batch, R->d, R->m_max, R->k_max > 0 ? R->k_max : 1,
                        is_topk_family(o->arch) ? R->aux_k : 1, R->any_dense,
                        o->arch == SX_SAE_BATCHTOPK || o->arch == SX_SAE_MATRYOSHKA, err))
        return -1;
    if (o->arch == SX_SAE_MATRYOSHKA && sx_scratch_groups(&R->scr, o->n_groups, err)) return -1;
    if (o->arch == SX_SAE_GATED && sx_scratch_gated(&R->scr, err)) return -1;
    if (R->lp) { /* the candidate lists of every rank (arch_sparse.c, merge_lists) */
        int64_t w = R->scr.cand_max > R->scr.aux_max ? R->scr.cand_max : R->scr.aux_max;
        R->scr.lp_send = malloc((size_t)o->batch * (size_t)w * 8);
        R->scr.lp_recv = malloc((size_t)o->batch * (size_t)w * 8 * (size_t)R->P);
        R->scr.lp_naux = malloc((size_t)o->batch * sizeof(int));
        R->scr.lp_rowmax = malloc((size_t)o->batch * sizeof(float));
        if (!R->scr.lp_send || !R->scr.lp_recv || !R->scr.lp_naux || !R->scr.lp_rowmax) return sx_failc(err, SX_ENOMEM, "train: out of memory for the candidate exchange");
    }
    R->x = malloc((size_t)o->batch * R->d * sizeof(float));
    if (!R->x) return sx_failc(err, SX_ENOMEM, "train: out of memory for the batch");
    sx_ckpt_state *st = &R->st;
    int len = snprintf(st->fingerprint, sizeof st->fingerprint, "arch=%s d_in=%d batch=%lld tokens=%lld seed=%llu norm=%d saes=",
                       cli_arch_name(o->arch), R->d, (long long)o->batch, (long long)o->tokens,
                       (unsigned long long)o->seed, o->normalize);
    for (int i = 0; i < R->n && len < (int)sizeof st->fingerprint - 40; i++)
        len += snprintf(st->fingerprint + len, sizeof st->fingerprint - (size_t)len, "%s%s", i ? "," : "", R->saes[i].name);
    for (int g = 0; g < o->n_groups && len < (int)sizeof st->fingerprint - 16; g++)
        len += snprintf(st->fingerprint + len, sizeof st->fingerprint - (size_t)len, "%s%d", g ? "," : " groups=", o->groups[g]);
    if (R->lp) /* each rank checkpoints its slice: only the same split can resume */
        snprintf(st->fingerprint + len, sizeof st->fingerprint - (size_t)len, " parallel=latents ranks=%d rank=%d", R->P, R->me);
    if (R->dp) { /* a checkpoint resumes only with the same split (same sums, same rounding) */
        snprintf(st->fingerprint + len, sizeof st->fingerprint - (size_t)len, " parallel=data ranks=%d", R->P);
        for (int i = 0; i < R->n; i++) /* the sparse archs have no dense gradient buffer otherwise */
            if (!R->saes[i].g && !(R->saes[i].g = malloc((size_t)R->saes[i].np * sizeof(float))))
                return sx_failc(err, SX_ENOMEM, "train: out of memory for the data-parallel gradient of %s", R->saes[i].name);
    }
    st->norm_scale = 1.0f;
    sx_rng_seed(&R->rng, o->seed);
    return 0;
}

static void run_free(run *R) {
    for (int i = 0; i < R->n; i++) sx_tsae_free(&R->saes[i]);
    sx_scratch_free(&R->scr);
    free(R->x);
    if (R->metrics) fclose(R->metrics);
}

/* Every rank holds a copy of the replicated state (data parallel: each SAE's parameters, Adam
 * moments and last-fired steps; latents: b_dec and its moments) and updates it from the same
 * reduced sums, so the copies stay bit-identical only if every rank gets the same bits from
 * every reduction: true of the shared-memory sum and of Open MPI's algorithms, not promised by
 * the MPI standard.  Before anything is saved the ranks compare a hash of their copies with
 * rank 0's (8 bytes per SAE); a copy that drifted is reported, not written.  The hash reads
 * each copy once (3 x 4 x params bytes in data parallel: ~0.1 s per GB). */
static uint64_t replica_hash(const sx_tsae *t, int lp) {
    uint64_t h = SX_FNV_OFFSET;
    const int64_t off = lp ? t->b_dec - t->p : 0, n = lp ? t->d : t->np;
    h = sx_hash_words(h, t->p + off, (size_t)n * sizeof(float));
    h = sx_hash_words(h, t->am + off, (size_t)n * sizeof(float));
    h = sx_hash_words(h, t->av + off, (size_t)n * sizeof(float));
    if (!lp && t->last_fired) h = sx_hash_words(h, t->last_fired, (size_t)t->m * sizeof(int64_t));
    return sx_hash_words(h, &t->bt_threshold, sizeof t->bt_threshold);
}
static int replicas_agree(run *R, sx_err *err) {
    if (R->P == 1) return 0;
    const char *inj = getenv("SAETOX_FAIL_REPLICA"); /* fault injection: this rank's copy drifts */
    if (inj && atoi(inj) == R->me) R->saes[0].b_dec[0] = nextafterf(R->saes[0].b_dec[0], INFINITY);
    int rc = 0;
    for (int i = 0; i < R->n && !rc; i++) {
        uint64_t h = replica_hash(&R->saes[i], R->lp), h0 = h;
        sx_mpi_bcast(&h0, sizeof h0, 0);
        if (h != h0)
            rc = sx_failc(err, SX_ENUMERIC, "train: step %lld: this rank's copy of %s differs from rank 0's "
                          "(an MPI reduction gave the ranks different bits): nothing saved",
                          (long long)R->st.step, R->saes[i].name);
    }
    return sx_mpi_check(rc, err);
}

static int save_checkpoint(run *R, sx_err *err) {
    if (replicas_agree(R, err)) return -1;
    memcpy(R->st.rng, R->rng.s, sizeof R->st.rng);
    int rc = R->me == 0 || R->lp ? sx_ckpt_save(R->ckdir, &R->st, R->saes, R->n, err) : 0;
    return sx_mpi_check(rc, err);
}

static int save_final(run *R, sx_err *err) {
    for (int i = 0; i < R->n; i++) {
        const sx_tsae *t = &R->saes[i];
        sx_sae sae;
        char dir[4200];
        if (R->lp) { /* the shape and names only: each rank writes its slice (sae_write_lp.c) */
            memset(&sae, 0, sizeof sae);
            sae.arch = t->arch, sae.d_in = t->d, sae.d_sae = t->m_full, sae.k = t->k;
            sae.apply_b_dec_to_input = 1, sae.norm_scale = R->st.norm_scale;
            sae.n_groups = t->arch == SX_SAE_MATRYOSHKA ? t->n_groups : 0;
            memcpy(sae.groups, t->groups, sizeof sae.groups);
        } else if (sx_tsae_export(t, R->st.norm_scale, &sae, err)) {
            return -1;
        }
        if (R->o->hook_name) snprintf(sae.hook_name, sizeof sae.hook_name, "%s", R->o->hook_name);
        if (R->o->model_name) snprintf(sae.model_name, sizeof sae.model_name, "%s", R->o->model_name);
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddNumberToObject(extra, "trained_tokens", (double)(R->st.step * R->o->batch));
        cJSON_AddNumberToObject(extra, "seed", (double)R->o->seed);
        cJSON_AddNumberToObject(extra, "sparsity_coef", R->saes[i].l1);
        cJSON_AddStringToObject(extra, "trainer_arch", cli_arch_name(R->o->arch));
        snprintf(dir, sizeof dir, "%s/%s", R->o->out_dir, R->saes[i].name);
        int rc = R->lp ? sx_tsae_save_lp(t, &sae, dir, extra, err) : sx_sae_save_meta(&sae, dir, extra, err);
        cJSON_Delete(extra);
        if (!R->lp) sx_sae_free(&sae);
        if (rc) return -1; /* under --parallel latents every rank knows (collective) */
    }
    return 0;
}

/* Returns 0 when the batch is usable, 1 to skip it, -1 to stop. */
static int check_batch(run *R, sx_err *err) {
    int64_t n = R->o->batch * R->d;
    int64_t bad = first_nonfinite(R->x, n);
    if (bad < 0) return 0;
    int64_t row = R->st.rows_consumed - R->o->batch + bad / R->d;
    if (R->o->nan_policy == SX_NAN_SKIP) {
        R->st.skipped_batches++;
        if (R->st.skipped_batches > R->steps + 10)
            return sx_failc(err, SX_ENUMERIC, "%s: too many batches with NaN/Inf (%lld skipped)", R->src->name,
                           (long long)R->st.skipped_batches);
        return 1;
    }
    return sx_failc(err, SX_ENUMERIC, "%s: non-finite activation (%s) in training batch %lld (row %lld of the shuffled stream, column %lld; use --nan-policy skip to drop such batches)",
                   R->src->name, isnan(R->x[bad]) ? "NaN" : "Inf", (long long)(R->st.rows_consumed / R->o->batch), (long long)row, (long long)(bad % R->d));
}

static double batch_var_sum(run *R) {
    const int d = R->d;
    const int64_t B = R->o->batch;
    double tot = 0;
#pragma omp parallel for schedule(static) reduction(+ : tot)
    for (int i = 0; i < d; i++) {
        double s = 0, ss = 0;
        for (int64_t r = 0; r < B; r++) {
            double v = R->x[r * d + i];
            s += v, ss += v * v;
        }
        tot += ss - s * s / (double)B;
    }
    return tot;
}

static void first_batch_init(run *R) {
    const int d = R->d;
    const int64_t B = R->o->batch;
    int norm = R->o->normalize < 0 ? !is_topk_family(R->o->arch) : R->o->normalize;
    if (norm) {
        double s = 0;
        for (int64_t r = 0; r < B; r++) {
            double q = 0;
            for (int i = 0; i < d; i++) q += (double)R->x[r * d + i] * R->x[r * d + i];
            s += sqrt(q);
        }
        double mean = s / (double)B;
        R->st.norm_scale = mean > 0 ? (float)(sqrt((double)d) / mean) : 1.0f;
    }
    for (int64_t i = 0; i < B * d; i++) R->x[i] *= R->st.norm_scale;
    float *gm = NULL;
    if (R->o->b_dec_init == 1 && (gm = malloc((size_t)d * sizeof(float))) != NULL) sx_geometric_median(R->x, (int)B, d, gm);
    for (int i = 0; i < R->n; i++) {
        sx_tsae_init_params(&R->saes[i], R->o->seed, i, R->x, (int)B, R->o->jumprelu_init_threshold);
        if (gm) memcpy(R->saes[i].b_dec, gm, (size_t)d * sizeof(float));
    }
    free(gm);
}

static int train_loop(run *R, sx_err *err) {
    const sx_train_opts *o = R->o;
    sx_progress pr;
    const int show = o->progress && R->me == 0;
    if (show) sx_progress_start(&pr, "train", (double)R->steps * o->batch, "tok");
    double t0 = sx_now();
    int64_t step0 = R->st.step;
    while (R->st.step < R->steps) {
        int rb = read_batch(R->src, R->x, o->batch, err);
        if (R->P > 1 && sx_mpi_check(rb, err)) return -1; /* one int per step */
        if (rb) return -1;
        R->st.rows_consumed += o->batch;
        int cb = check_batch(R, err); /* the same batch on every rank: the same verdict */
        if (cb < 0) return -1;
        if (cb == 1) continue;
        int64_t step = R->st.step;
        if (step == 0) first_batch_init(R);
        else if (R->st.norm_scale != 1.0f)
            for (int64_t i = 0; i < o->batch * R->d; i++) R->x[i] *= R->st.norm_scale;
        double lam_scale = o->l1_warmup_frac > 0 ? fmin(1.0, (double)(step + 1) / fmax(1.0, o->l1_warmup_frac * R->steps)) : 1.0;
        for (int i = 0; i < R->n; i++) {
            sx_step_ctx c = {0};
            c.B = (int)o->batch, c.x = R->x, c.s = &R->scr, c.adam_t = (int)(step + 1);
            c.lr = sx_lr_at(step, R->steps, R->base_lr[i], o->lr_warmup_frac, o->lr_decay_frac);
            c.sparsity_scale = lam_scale;
            c.tokens_before = step * o->batch, c.dead_tokens = R->dead_tokens;
            c.clip = o->grad_clip, c.aux_coef = o->aux_coef, c.aux_k = R->aux_k;
            c.aux_normalize = o->aux_normalize, c.lazy_adam = !o->dense_adam;
            c.eps = o->jumprelu_eps, c.bt_ema = o->batchtopk_ema;
            if (R->dp) c.x = R->x + R->lo * R->d, c.B = (int)(R->hi - R->lo), c.B_norm = (int)o->batch, c.dp = 1;
            c.lp = R->lp;
            int rc = R->lp && is_topk_family(o->arch) ? sx_step_sparse_lp(&R->saes[i], &c, err)
                     : is_topk_family(o->arch)      ? sx_step_sparse(&R->saes[i], &c, err)
                     : o->arch == SX_SAE_GATED ? sx_step_gated(&R->saes[i], &c, err)
                                               : sx_step_dense(&R->saes[i], &c, err);
            if (rc) sx_fail_prefix(err, "%s: step %lld", R->src->name, (long long)step);
            if (R->P > 1 ? sx_mpi_check(rc, err) : rc) return -1;
        }
        R->st.step++;
        double el = sx_now() - t0;
        double tps = el > 0 ? (double)(R->st.step - step0) * o->batch / el : 0;
        if (R->metrics && (R->st.step % (o->log_every > 0 ? o->log_every : 50) == 0 || R->st.step == R->steps)) {
            double vs = batch_var_sum(R);
            for (int i = 0; i < R->n; i++)
                write_metrics(R->metrics, &R->saes[i], R->st.step, R->st.step * o->batch, vs,
                              sx_lr_at(step, R->steps, R->base_lr[i], o->lr_warmup_frac, o->lr_decay_frac),
                              lam_scale, tps);
            fflush(R->metrics);
        }
        if (show) sx_progress_update(&pr, (double)R->st.step * o->batch);
        int stop_now = o->stop_after_steps > 0 && R->st.step == o->stop_after_steps && R->st.step < R->steps;
        if ((o->checkpoint_every > 0 && R->st.step % o->checkpoint_every == 0 && R->st.step < R->steps) || stop_now)
            if (save_checkpoint(R, err)) return -1;
        if (stop_now) return 1;
    }
    if (show) sx_progress_finish(&pr);
    return 0;
}

/* Under mpirun: the parallel mode fits the ranks (checked on every rank: all fail together). */
static int validate_parallel(const sx_train_opts *o, int P, sx_err *err) {
    if (P == 1) return 0;
    if (g_parallel == SX_PAR_NONE)
        return sx_failc(err, SX_EINVAL, "train: started with %d MPI ranks: give --parallel data (or latents); "
                        "otherwise every rank would train the same SAEs into %s", P, o->out_dir);
    if (g_parallel == SX_PAR_LATENTS) {
        for (int w = 0; w < o->n_widths; w++)
            if (o->widths[w] % P)
                return sx_failc(err, SX_EINVAL, "train: --parallel latents: width %d is not divisible by the %d ranks", o->widths[w], P);
        return 0;
    }
    if (o->batch % P)
        return sx_failc(err, SX_EINVAL, "train: --parallel data: --batch %lld is not divisible by the %d ranks",
                        (long long)o->batch, P);
    return 0;
}

int sx_train_run(const sx_train_opts *o, sx_batch_source *src, sx_err *err) {
    sx_blas_fix_coretype(); /* before the first BLAS call (lazy part of sx_init) */
    const int P = sx_mpi_size(), me = sx_mpi_rank();
    int vrc = validate(o, src->d_in, err);
    if (!vrc) vrc = validate_parallel(o, P, err);
    if (!vrc && me == 0) vrc = sx_mkdir_p(o->out_dir, err);
    if (sx_mpi_check(vrc, err)) return -1;
    if (me == 0) sx_ckpt_clean_stale(o->out_dir);
    run *R = calloc(1, sizeof *R);
    if (!R) return sx_failc(err, SX_ENOMEM, "train: out of memory");
    R->o = o, R->src = src;
    R->P = P, R->me = me, R->lp = P > 1 && g_parallel == SX_PAR_LATENTS, R->dp = P > 1 && !R->lp;
    R->lo = o->batch * me / P, R->hi = o->batch * (me + 1) / P;
    snprintf(R->ckdir, sizeof R->ckdir, "%s", o->out_dir);
    int rc = 0;
    if (R->lp) { /* each rank's slice checkpoints into its own folder */
        snprintf(R->ckdir, sizeof R->ckdir, "%s/ranks/%d-of-%d", o->out_dir, me, P);
        rc = sx_mkdir_p(R->ckdir, err);
        if (!rc) sx_ckpt_clean_stale(R->ckdir);
    }
    if (!rc) rc = run_setup(R, err);
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
    if (!rc && o->resume) {
        int l = sx_ckpt_load(R->ckdir, &R->st, R->saes, R->n, err);
        if (l < 0) rc = -1;
        else if (l == 0) rc = sx_failc(err, SX_ENOTFOUND, "%s/checkpoint: no checkpoint to resume from", o->out_dir);
        else {
            memcpy(R->rng.s, R->st.rng, sizeof R->st.rng);
            if (src->skip(src->ctx, R->st.rows_consumed, err) ||
                (me == 0 && sx_metrics_truncate(path, R->st.step, err)))
                rc = -1;
        }
    }
    if (!rc && me == 0) {
        R->metrics = fopen(path, o->resume ? "a" : "w");
        if (!R->metrics) rc = sx_failc(err, SX_EIO, "%s: cannot open for writing", path);
    }
    rc = sx_mpi_check(rc, err);
    if (!rc && R->lp && o->resume) { /* the slices must be of one step (a kill between two ranks' renames) */
        int64_t lo_hi[2] = {R->st.step, -R->st.step};
        sx_mpi_allreduce_i64(lo_hi, 2, SX_MPI_MIN);
        if (lo_hi[0] != -lo_hi[1])
            rc = sx_failc(err, SX_ECORRUPT, "%s/ranks: the ranks' checkpoints are of different steps (%lld..%lld): start afresh",
                          o->out_dir, (long long)lo_hi[0], (long long)-lo_hi[1]);
        rc = sx_mpi_check(rc, err);
    }
    sx_blas_single(1);
    if (!rc) rc = train_loop(R, err);
    sx_blas_single(0);
    if (rc == 0) rc = replicas_agree(R, err);
    if (rc == 0) rc = sx_mpi_check(me == 0 || R->lp ? save_final(R, err) : 0, err);
    if (rc == 1) rc = 0; /* stopped early on purpose, checkpoint written */
    run_free(R);
    free(R);
    return rc;
}

/* ---------- HDF5 caches via the datasets reader ---------- */
static int64_t reader_next(void *ctx, float *out, int64_t rows, sx_err *err) {
    return sx_act_reader_next((sx_act_reader *)ctx, out, rows, err);
}
static int reader_skip(void *ctx, int64_t rows, sx_err *err) {
    return sx_act_reader_skip((sx_act_reader *)ctx, rows, err);
}

int sx_train_caches(const sx_train_opts *o, const char *const *paths, int n_paths, sx_err *err) {
    sx_act_reader_opts ro = {o->seed, 4 * o->batch > 16384 ? 4 * o->batch : 16384, 1};
    sx_act_reader *r = NULL;
    int orc = sx_act_reader_open(paths, n_paths, &ro, &r, err);
    if (sx_mpi_size() > 1) { /* every rank must read the same rows (a shared filesystem) */
        char fp[128] = "", what[4200];
        if (!orc) snprintf(fp, sizeof fp, "rows=%lld d_in=%d", (long long)sx_act_reader_rows(r), sx_act_reader_d_in(r));
        snprintf(what, sizeof what, "%s: the cache's rows and d_in", paths[0]);
        if (sx_mpi_check(orc, err) || sx_mpi_same_string(fp, what, 1, err)) {
            if (r) sx_act_reader_close(r);
            return -1;
        }
    }
    if (orc) return -1;
    char name[4200];
    snprintf(name, sizeof name, "%s%s", paths[0], n_paths > 1 ? ",..." : "");
    sx_batch_source src = {r, sx_act_reader_d_in(r), name, reader_next, reader_skip};
    int rc = sx_train_run(o, &src, err);
    sx_act_reader_close(r);
    return rc;
}
