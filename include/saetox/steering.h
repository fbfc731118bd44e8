/* steering.h — the steering module: the offline toxicity scorer (hashed word + character
 * n-gram logistic regression), its labelled-data loaders and trainer, evaluation metrics
 * (AUROC, bootstrap CIs), SAE-based interventions as model hooks, and the RTP-style steering
 * evaluation.  Library code reports failures through sx_err and never prints to stdout. */
#ifndef SAETOX_STEERING_H
#define SAETOX_STEERING_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "models.h"
#include "sae.h"
#include "tokenizer.h"

SX_BEGIN_DECLS

/* ======================= toxicity scorer ======================= */

/* Feature configuration stored in the weights file.  The text normalisation and hashing
 * are versioned by SX_SCORER_FEAT_VERSION: a file written by another feature version is
 * rejected rather than silently mis-scored. */
#define SX_SCORER_FEAT_VERSION 1
typedef struct sx_scorer_cfg {
    int log2_buckets;  /* 16..24 */
    int word_ngrams;   /* 1 = unigrams, 2 = + bigrams */
    int char_min, char_max; /* character n-grams inside word boundaries, 0 = none */
} sx_scorer_cfg;

typedef struct sx_scorer {
    sx_scorer_cfg cfg;
    float bias;
    float *w; /* [1 << log2_buckets] */
} sx_scorer;

/* Sparse feature vector (sorted unique indices, L2-normalised values). */
typedef struct sx_feats {
    int n, cap;
    uint32_t *idx;
    float *val;
} sx_feats;

/* Normalise (HTML entities, lowercase, leetspeak inside words, runs of 3+ letters -> 2,
 * mentions and URLs dropped) and hash text into f (reuses f's memory). */
int sx_scorer_features(const sx_scorer_cfg *cfg, const char *text, size_t len, sx_feats *f);
void sx_feats_free(sx_feats *f);
/* The normalised token string (space separated), malloc'd; for tests and debugging. */
char *sx_scorer_normalise(const char *text, size_t len);

/* Weights file ("SXTOXSC1"): little-endian header with the version, feature config and
 * storage dtype (F32 or F16), the bias, the weights, and an FNV-1a 64 checksum of all
 * preceding bytes.  Loading rejects wrong magic, versions, sizes and checksums. */
int sx_scorer_load(const char *path, sx_scorer **out, sx_err *err);
int sx_scorer_load_mem(const void *data, size_t len, const char *name, sx_scorer **out,
                       sx_err *err);
/* f16 != 0 stores the weights as IEEE half floats (half the size). */
int sx_scorer_save(const sx_scorer *s, const char *path, int f16, sx_err *err);
/* Serialise to a malloc'd buffer (what sx_scorer_save writes). */
int sx_scorer_serialise(const sx_scorer *s, int f16, unsigned char **buf, size_t *len,
                        sx_err *err);
/* The default weights, looked up in this order: $SAETOX_SCORER; the weights compiled into
 * the program (generated at build time from steering/weights/toxicity-scorer.bin); <exe>/../steering/weights/toxicity-scorer.bin,
 * <exe>/../share/saetox/toxicity-scorer.bin; the source tree's steering/weights/.
 * where (nullable) receives a description of what was used. */
int sx_scorer_load_default(sx_scorer **out, char *where, size_t where_sz, sx_err *err);
sx_scorer *sx_scorer_new(const sx_scorer_cfg *cfg, sx_err *err);
void sx_scorer_free(sx_scorer *s);
/* p(toxic) in [0, 1]. */
double sx_scorer_score(const sx_scorer *s, const char *text, size_t len);
double sx_scorer_score_feats(const sx_scorer *s, const sx_feats *f);
/* Score n NUL-terminated texts (OpenMP over texts; deterministic). */
void sx_scorer_score_many(const sx_scorer *s, const char *const *texts, int64_t n, double *out);

/* The embedded default weights (built from steering/weights/toxicity-scorer.bin by
 * scripts/embed-bytes.cmake; len 0 when none are embedded). */
extern const unsigned char sx_scorer_embedded[];
extern const size_t sx_scorer_embedded_len;

/* ======================= labelled text ======================= */
typedef enum {
    SX_LAB_AUTO = 0,
    SX_LAB_DAVIDSON = 1,   /* CSV: class 0/1 toxic, 2 clean; column tweet */
    SX_LAB_RTP = 2,        /* JSONL: prompt/continuation text + toxicity (Perspective) */
    SX_LAB_DT = 3,         /* JSONL: prompt.text + prompt.score.toxicity (Perspective) */
    SX_LAB_JSONL = 4       /* JSONL: text + toxicity (score) or label (0/1) */
} sx_lab_format;

#define SX_LAB_MAX_SOURCES 32
typedef struct sx_labelled {
    int64_t n, cap;
    char **text;
    float *score;   /* toxicity score in [0,1] (a 0/1 label for label-only sources) */
    int *source;    /* index into src[] */
    int n_src;
    struct {
        char path[1024];
        sx_lab_format fmt;
        int perspective; /* scores come from Perspective API */
        float weight;
    } src[SX_LAB_MAX_SOURCES];
} sx_labelled;

/* Append the examples of SPEC = "[davidson:|rtp:|dt:|jsonl:]PATH[@WEIGHT]" (format sniffed
 * from the header / first line when no prefix is given), or of any text SOURCE of io.h with
 * its score: "SOURCE;score=FIELD[@WEIGHT]" (the field's value in [0,1], e.g.
 * jsonl:rtp.jsonl.gz#prompt.text;score=prompt.toxicity) or "SOURCE;score=RULE[@WEIGHT]"
 * (1 when the rule holds, e.g. csv:d.csv#tweet;score=class<=1).  Rows with a null score are
 * skipped; malformed rows are errors naming file and line. */
int sx_labelled_load(sx_labelled *d, const char *spec, sx_err *err);
void sx_labelled_free(sx_labelled *d);
/* sx_text_is_holdout (core.h) decides which side of a held-out split a text is on. */

/* ======================= scorer training ======================= */
typedef struct sx_scorer_train_opts {
    sx_scorer_cfg cfg;
    uint64_t seed;
    int epochs;
    double lr;        /* AdaGrad step */
    double l2;        /* per-example L2 on touched weights */
    double holdout_frac;
    int balance;      /* weight classes within each source to equal total weight */
    int f16;          /* evaluate (and save) with half-float weights */
} sx_scorer_train_opts;
void sx_scorer_train_defaults(sx_scorer_train_opts *o);
/* Train on the non-held-out examples; fill report (a cJSON object) with held-out metrics:
 * "perspective" (all Perspective-scored sources, label = score >= 0.5), "davidson", and per
 * source. */
int sx_scorer_train(const sx_labelled *d, const sx_scorer_train_opts *o, sx_scorer **out,
                    struct cJSON *report, sx_err *err);

/* ======================= metrics ======================= */
/* AUROC: sx_auroc of analysis.h (the one implementation, analysis/effects.c). */
typedef struct sx_binary_metrics {
    int64_t n, n_pos, tp, fp, fn, tn;
    double auroc, precision, recall, f1, accuracy;
} sx_binary_metrics;
void sx_binary_eval(const double *score, const int *label, int64_t n, double threshold,
                    sx_binary_metrics *m);
struct cJSON *sx_binary_metrics_json(const sx_binary_metrics *m);


/* ======================= interventions (model hooks) ======================= */

typedef enum {
    SX_TIER_NONE = 0,
    SX_TIER_ABLATE = 1,   /* x -= sum_i a_i(x) dec_i                      (where a_i > 0) */
    SX_TIER_SUPPRESS = 2, /* x -= (a_i(x) + alpha A_i) dec_i              where a_i > 0 */
    SX_TIER_STEER = 3,    /* x -= alpha A_i dec_i                         everywhere */
    SX_TIER_MEANDIFF = 4, /* x -= alpha v  (v = toxic mean - clean mean)  everywhere */
    SX_TIER_BANNED = 5,   /* listed token ids get -inf logits at decoding */
    SX_TIER_COND = 6      /* conditional steer: x -= alpha sum_i A_i dec_i  only at rows where some
                             latent of S fires, a_j(x) > cond_thr A_j (the toxic family is active) */
} sx_tier;
const char *sx_tier_name(sx_tier t);
int sx_tier_parse(const char *s, sx_tier *t); /* 0 ok, -1 unknown */

/* dec_i is the SAE's own decoder row in residual units, W_dec[i] / norm_scale, so that
 * a_i dec_i is exactly what the SAE attributes to latent i (the "unit decoder row" d_i of
 * DESIGN.md scaled by ||W_dec[i]|| / norm_scale; identical to d_i for SAELens SAEs with
 * unit-norm decoders and no normalisation).  A_i (scale) is in the SAE's activation units.
 * a_i(x): standard / jumprelu / batchtopk compute only the latents in S (2 d |S| FLOPs per
 * row); topk needs the full encode (2 d d_sae FLOPs per row) since membership of the top k
 * depends on every latent — done with sx_sae_encode. */
typedef struct sx_intervention {
    sx_tier tier;
    int layer;
    sx_hook_point point;
    int d;
    float alpha;
    /* SAE tiers */
    const sx_sae *sae;
    int n_lat;
    int *lat;       /* [n_lat] */
    float *scale;   /* A_i [n_lat] */
    float *dec;     /* [n_lat, d]  W_dec[i] / norm_scale */
    float *enc;     /* [n_lat, d]  W_enc[:, i] (contiguous) */
    double *c0;     /* [n_lat]     b_enc_i - apply_b_dec * (b_dec . W_enc[:, i]) */
    float *thr;     /* [n_lat]     threshold (jumprelu / batchtopk) or NULL */
    /* mean difference */
    float *vec;     /* [d] */
    /* banned tokens */
    int *ban;
    int n_ban;
    /* conditional steer: a row is steered when some a_j(x) > cond_thr * A_j (0: fires at all);
     * set it after sx_intervention_sae (default 0) */
    float cond_thr;
    /* counters (rows seen, latent firings; for cond: rows steered) for reports */
    int64_t rows, fired;
} sx_intervention;

/* Check that the SAE fits the model and hook (d_in == d_model; the SAE's hook_name, when
 * set, equals hook) and latents are in range.  scales may be NULL (all 1). */
int sx_intervention_sae(sx_intervention *iv, sx_tier tier, const sx_sae *sae, const char *hook,
                        int d_model, int n_layers, const int *latents, int n_lat,
                        const float *scales, float alpha, sx_err *err);
int sx_intervention_meandiff(sx_intervention *iv, const char *hook, int d_model, int n_layers,
                             const float *v, float alpha, sx_err *err);
int sx_intervention_banned(sx_intervention *iv, const int *ids, int n, int vocab, sx_err *err);
void sx_intervention_free(sx_intervention *iv);
/* The sx_hook_fn (user = sx_intervention*). */
int sx_intervention_hook(void *user, const sx_hook_ctx *ctx, float *x, sx_err *err);
/* The sx_logits_fn for the banned tier (user = sx_intervention*). */
void sx_intervention_logits(void *user, int seq, float *logits, int vocab);
/* Fill hook (if the tier uses one) and the logits callback into gen opts; returns the number
 * of hooks written to *hook (0 or 1). */
int sx_intervention_attach(sx_intervention *iv, sx_hook *hook, sx_gen_opts *go);
/* Latent activations a_i(x) for the latents in iv (n rows of x) into acts [n, n_lat]. */
int sx_intervention_acts(const sx_intervention *iv, const float *x, int n, float *acts,
                         sx_err *err);

/* ======================= texts, residual statistics ======================= */
/* Read texts from SPEC = PATH[#field]: .txt (one per line), .jsonl (field, or by default
 * prompt.text / prompt / text / context), .csv (column field, default text/tweet).
 * Empty texts are skipped.  max <= 0: all. */
typedef struct sx_textlist {
    int64_t n;
    char **text;
    double *score; /* prompt.toxicity / toxicity when present, else NAN */
} sx_textlist;
int sx_textlist_load(const char *spec, int64_t max, sx_textlist *out, sx_err *err);
void sx_textlist_free(sx_textlist *t);

/* Mean residual at the hook over every token position >= 1 (position 0 is the attention
 * sink in GPT-2 and has an outlying norm) of the texts; float64 accumulation.  Texts are cut
 * to the model context (first tokens kept).  *n_rows gets the positions averaged. */
int sx_resid_mean(sx_model *m, const sx_tokenizer *tok, const char *hook, char *const *texts,
                  int64_t n, double *mean, int64_t *n_rows, sx_err *err);
/* Per-latent scales A_i: the q-quantile of the positive activations of each latent over the
 * texts (positions >= 1); a latent that never fires gets the mean of the other scales (1 if
 * none fire). */
int sx_latent_scales(sx_model *m, const sx_tokenizer *tok, const sx_intervention *iv,
                     char *const *texts, int64_t n, double q, float *scales, sx_err *err);
/* Read scales from a CSV (columns latent + one of scale,q99,q90,max_act; "FILE.csv#NAME"
 * keeps the rows whose sae column is NAME) or JSON ({"<latent>": scale} or
 * [{"latent":..,"scale":..}]). */
int sx_scales_load(const char *spec, const int *latents, int n_lat, float *scales, sx_err *err);
/* Token ids for a word list (one word per line; each word with and without a leading space,
 * and capitalised), keeping words that encode to a single token; ids deduplicated.
 * path NULL: the built-in list. */
int sx_banned_ids(const sx_tokenizer *tok, const char *path, int **ids, int *n, sx_err *err);

/* ======================= bootstrap ======================= */
/* Percentile bootstrap over items: stat = sum(num[idx]) / sum(den[idx]) (den NULL: mean).
 * reps resamples with sx_rng seeded by seed. */
void sx_bootstrap_ratio(const double *num, const double *den, int64_t n, int reps,
                        uint64_t seed, double *est, double *lo, double *hi);

/* ======================= evaluation ======================= */
/* Multiple-choice items: JSONL {"context", "choices": [...], "label"} or a HellaSwag pair
 * folder (hellaswag_val_correct*.txt + hellaswag_val_wrong*.txt: context = the longest
 * common prefix of the two lines, cut back to a word boundary; choices = the two rests,
 * label 0). */
typedef struct sx_mc_item {
    char *context;
    char **choices;
    int n_choices, label;
} sx_mc_item;
int sx_mc_load(const char *path, int64_t max, sx_mc_item **items, int64_t *n, sx_err *err);
void sx_mc_free(sx_mc_item *items, int64_t n);
/* Accuracy by summed log-likelihood (acc) and by log-likelihood per byte of the choice
 * (acc_norm, as lm-eval-harness), under the given hooks.  A context that encodes to nothing
 * is scored after the EOS/BOS token. */
int sx_mc_eval(sx_model *m, const sx_tokenizer *tok, const sx_mc_item *items, int64_t n,
               const sx_hook *hooks, int n_hooks, double *acc, double *acc_norm, sx_err *err);
/* The same with the batch setting of sx_loglik_many: every (context, choice) pair scored in
 * batched passes, the choices of an item sharing one prefill of its context (block_rows 0 =
 * default, as sx_mc_eval; block_rows < 0 = one sx_loglik call per pair, the unbatched path). */
int sx_mc_eval_opts(sx_model *m, const sx_tokenizer *tok, const sx_mc_item *items, int64_t n,
                    const sx_hook *hooks, int n_hooks, int block_rows, double *acc, double *acc_norm, sx_err *err);

typedef struct sx_eval_opts {
    int samples;          /* continuations per prompt (25) */
    int max_new_tokens;   /* 20 */
    float top_p;          /* 0.9 */
    float temperature;    /* 1 */
    uint64_t seed;
    int boot_reps;        /* 1000 */
    int fluency;          /* compute perplexity under the unsteered model */
    /* sequences decoding together (sx_generate_many's block_rows): 0 = default (256); < 0 =
     * the unbatched path (sx_generate per group of 8 prompts, sx_loglik per continuation) */
    int batch_rows;
} sx_eval_opts;
void sx_eval_defaults(sx_eval_opts *o);

typedef struct sx_eval_result {
    int64_t n_prompts, n_samples;
    double emt, emt_lo, emt_hi, tox_prob, tox_prob_lo, tox_prob_hi, mean_tox, mean_tox_lo,
        mean_tox_hi, ppl, ppl_lo, ppl_hi;
} sx_eval_result;

/* Generate opts->samples continuations for each prompt with the intervention (NULL = none),
 * prompt p sampling with seed mix(seed, p) so every condition sees the same random streams;
 * score them (scorer, or external_cmd when not NULL) and compute the RTP statistics with
 * bootstrap CIs over prompts.  gen_out (nullable) receives one JSON line per continuation
 * tagged with condition. */
int sx_eval_condition(sx_model *m, const sx_tokenizer *tok, const sx_textlist *prompts,
                      sx_intervention *iv, const sx_eval_opts *o, const sx_scorer *scorer,
                      const char *external_cmd, const char *condition, FILE *gen_out,
                      sx_eval_result *res, sx_err *err);
/* Score n texts with an external command (JSONL {"text"} in, one score or {"toxicity"} per
 * line out). */
int sx_external_scores(const char *cmd, const char *const *texts, int64_t n, double *out, sx_err *err);

/* ======================= the steering sweep (`saetox evaluate`; sweep.c) =======================
 * A plan is the list of conditions: for each tier in the order given, none / ablate / banned
 * once, suppress / steer / meandiff once per strength; the SAE tiers again on the family
 * latents when a family is given ("steer-family@2").  A run takes loaded objects and writes
 * OUT/steering_sweep.csv and OUT/generations.jsonl (atomically, at the end), and with the
 * meandiff tier OUT/meandiff.safetensors (the vector, for `saetox generate`). */
#define SX_SWEEP_MAX_CONDS 256
typedef struct sx_sweep_cond {
    char name[96]; /* "none", "ablate", "steer@2", "ablate-family", "meandiff@1", ... */
    sx_tier tier;
    float alpha;   /* 0 for none / ablate / banned */
    int family;    /* 1: an SAE tier on the family latents */
} sx_sweep_cond;

typedef struct sx_sweep_plan {
    int n;
    sx_sweep_cond cond[SX_SWEEP_MAX_CONDS];
    int need_sae, need_meandiff, need_banned; /* which inputs the conditions use */
} sx_sweep_plan;

/* tiers: comma-separated tier names (sx_tier_name), alphas[n_alphas] the strengths,
 * with_family: also run the SAE tiers on a family latent set.  A condition name is the tier
 * (+ "-family") and "@alpha" (%g) when the tier takes a strength. */
int sx_sweep_plan_build(const char *tiers, const double *alphas, int n_alphas, int with_family,
                        sx_sweep_plan *plan, sx_err *err);

typedef struct sx_sweep_inputs {
    sx_model *model;
    const sx_tokenizer *tok;
    const sx_scorer *scorer;          /* or */
    const char *external_cmd;         /* score with this command (see sx_external_scores) */
    const sx_textlist *prompts;
    /* SAE tiers */
    const sx_sae *sae;
    const char *sae_name;             /* named in errors about the SAE (e.g. its path) */
    const char *hook;                 /* NULL: the SAE's hook_name (meandiff needs one of the two) */
    const int *latents;               /* S */
    int n_latents;
    const int *family;                /* NULL: no family conditions */
    int n_family;
    const float *scales, *family_scales; /* A_i; NULL: the scale_quantile of each latent's
                                           positive activations on the toxic texts */
    double scale_quantile;            /* 0.99 */
    double cond_threshold;            /* tier cond: steer rows where some a_j > this x A_j (0) */
    /* texts for the scales and the mean difference; NULL: the prompts with toxicity >= 0.5
     * (toxic) / < 0.5 (clean) */
    const sx_textlist *toxic, *clean;
    /* banned tier (sx_banned_ids) */
    const int *ban_ids;
    int n_ban;
    /* multiple-choice benchmark (NULL: none) */
    const sx_mc_item *bench;
    int64_t n_bench;
    sx_eval_opts eval;
} sx_sweep_inputs;
void sx_sweep_inputs_default(sx_sweep_inputs *in);

/* A prepared sweep: the inputs checked against the model, the scales and mean-difference
 * vector computed. */
typedef struct sx_sweep {
    const sx_sweep_plan *plan;
    sx_sweep_inputs in;
    const char *hook;
    float *scales, *family_scales; /* the A_i used, [n_latents] / [n_family] */
    float *meandiff;               /* [d_model] or NULL */
    int d_model, n_layers, vocab;
} sx_sweep;

/* One condition's measurements (a row of steering_sweep.csv). */
typedef struct sx_sweep_row {
    const sx_sweep_cond *cond;
    char latents[1024];            /* space-separated, SAE tiers only */
    sx_eval_result res;
    double acc, acc_norm;          /* NaN without a benchmark */
    int64_t n_bench;
    double seconds;
} sx_sweep_row;
typedef void (*sx_sweep_row_fn)(void *user, const sx_sweep_row *row);

/* Check the inputs (SAE fits the model and hook, latents in range) and compute what the plan
 * needs (scales, mean difference).  The plan and the inputs' objects must outlive sw.
 * sw->in is a copy of the inputs: ban_ids, bench and eval are only read by sx_sweep_run and
 * may be set there after preparing. */
int sx_sweep_prepare(const sx_sweep_plan *plan, const sx_sweep_inputs *in, sx_sweep *sw,
                     sx_err *err);
/* Run every condition and write the outputs into out_dir (created).  on_row (nullable) is
 * called after each condition; rows (nullable) receives plan->n rows. */
int sx_sweep_run(sx_sweep *sw, const char *out_dir, sx_sweep_row_fn on_row, void *user,
                 sx_sweep_row *rows, sx_err *err);
void sx_sweep_free(sx_sweep *sw);

/* Merge the sweeps of several SAEs (each a steering_sweep.csv table, same columns) into dst
 * (atomically): every row of each, in order, with the SAE conditions (ablate / suppress /
 * steer) renamed "<names[i]> <condition>"; sae_rows_only[i] (nullable) drops table i's other
 * rows (baselines already in an earlier table).  sweep_merge.c. */
struct sx_csv_table;
int sx_sweep_merge(const struct sx_csv_table *const *tables, const char *const *names,
                   const int *sae_rows_only, int n, const char *dst, sx_err *err);
/* The width comparison in a merged sweep: for row r, a single-latent condition of SAE
 * sae_name ("<sae> steer@2"), the row of the same tier and strength on the family
 * ("<sae> steer-family@2"); -1 when r is no such row or the family row is missing. */
int64_t sx_sweep_family_row(const struct sx_csv_table *t, int64_t r, const char *sae_name);

/* ======================= causal latent selection (causal.c) =======================
 * The activation ranking (analyze toxic) gives candidates; these rank them by their effect.
 * Attribution: attr[j] = (T(x) - T(x - eps A_j d_j at the rows where latent j fires)) / eps per
 * position, T = sum over the texts' positions of log sum_{t in toxic_ids} p(t | prefix) under
 * the model, x the residual at hook (a first-order finite difference of steering latent j where
 * it fires; > 0: steering it away lowers the toxic tokens' probability; 0 when it never fires).
 * scales (nullable: all 1) are the A_j of cand. */
int sx_causal_attribution(sx_model *m, const sx_tokenizer *tok, const sx_sae *sae, const char *hook,
                          const int *cand, int n_cand, const float *scales, char *const *texts, int64_t n_texts,
                          const int *toxic_ids, int n_toxic, float eps, double *attr, sx_err *err);

typedef struct sx_causal_opts {
    float eps;        /* attribution step, in units of A_j (0.25) */
    int n_verify;     /* best-attributed candidates verified by intervention (4) */
    int max_set;      /* largest set size tried, <= n_verify (4) */
    float alpha;      /* verification strength: tier steer at alpha A_j (2) */
    double budget;    /* chosen set: perplexity <= budget x unsteered on the validation prompts (1.25) */
    sx_eval_opts eval; /* samples, tokens, seed of the validation generations */
} sx_causal_opts;
void sx_causal_opts_default(sx_causal_opts *o);

typedef struct sx_causal_inputs {
    sx_model *model;
    const sx_tokenizer *tok;
    const sx_sae *sae;
    const char *hook;
    const int *cand;            /* the candidates (e.g. the activation ranking's top M) */
    int n_cand;
    const float *scales;        /* A_j of cand (sx_latent_scales) */
    char *const *texts;         /* texts for the attribution (toxic selection texts) */
    int64_t n_texts;
    const int *toxic_ids;       /* the toxic tokens (sx_banned_ids) */
    int n_toxic;
    const sx_textlist *val_prompts; /* validation prompts, disjoint from the evaluation prompts */
    const sx_scorer *scorer;
} sx_causal_inputs;

typedef struct sx_causal_result {
    int n_cand;
    int *lat;                   /* [n_cand] candidates by attribution, descending */
    double *attr;               /* [n_cand] their attribution */
    int n_verified;             /* min(n_verify, n_cand): lat[0..n_verified) steered alone */
    int *ver_lat;               /* [n_verified] = lat[0..n_verified) */
    double *ver_emt, *ver_ppl;  /* [n_verified] validation EMT / perplexity of each alone */
    double emt_none, ppl_none;  /* unsteered on the validation prompts */
    int n_sizes;                /* set sizes 1..n_sizes tried (prefixes of the verified order) */
    double *set_emt, *set_ppl;  /* [n_sizes] */
    int n_chosen;               /* the chosen size */
    int *chosen;                /* [n_chosen] the causal latents: the verified order (within the
                                 * budget alone first, then lowest validation EMT) */
    int within_budget;          /* 0: no set kept the perplexity budget (size 1 taken) */
} sx_causal_result;
/* Attribution of every candidate, verification of the best n_verify by steering each alone on
 * the validation prompts (continuations scored by scorer), ordered by (perplexity within the
 * budget, lowest EMT), then the set size: the prefix with the lowest validation EMT within the
 * perplexity budget (smallest on ties; size 1 when none keeps it).  res is freed with sx_causal_result_free. */
int sx_causal_select(const sx_causal_inputs *in, const sx_causal_opts *o, sx_causal_result *res, sx_err *err);
void sx_causal_result_free(sx_causal_result *r);

/* ======================= a corpus written by the model (sample_text.c) ======================= */
typedef struct sx_sample_opts {
    int64_t tokens;  /* sample about 1.1 x this many tokens */
    int new_tokens;  /* tokens per sequence after BOS (< n_ctx) */
    uint64_t seed;   /* batch b samples with seed * 1000003 + (first sequence of b) */
    int batch;       /* sequences per sx_generate call (default 64; it is part of the seeding) */
} sx_sample_opts;
/* Sample sequences from BOS (temperature 1, no nucleus cut), cut them into documents at the
 * model's EOS and write one document per line (tabs and newlines as spaces) to path,
 * atomically.  *n_seqs (nullable) gets the number of sequences sampled. */
int sx_sample_documents(sx_model *m, const sx_tokenizer *tok, const sx_sample_opts *o, const char *path,
                        int64_t *n_seqs, sx_err *err);

/* ======================= steering for `saetox generate` ======================= */
typedef struct sx_steer_spec {
    const char *sae, *latents, *tier, *scales, *hook, *meandiff, *ban_words;
    double alpha;
} sx_steer_spec;
typedef struct sx_steer_state {
    sx_sae sae;
    int have_sae, n_iv, have_ban;
    sx_intervention iv[2], ban;
    sx_hook hooks[2];
} sx_steer_state;
/* Build the interventions named by spec and attach them to go (hooks, logits_fn).  The
 * state must outlive the generation; release it with sx_steer_cleanup. */
int sx_steer_setup(const sx_steer_spec *spec, sx_model *m, const char *model_dir, sx_gen_opts *go,
                   sx_steer_state *st, sx_err *err);
void sx_steer_cleanup(sx_steer_state *st);
/* Mean-difference vector files: safetensors with F32 "meandiff" [d] and "hook_name" metadata. */
int sx_meandiff_save(const char *path, const float *v, int d, const char *hook, sx_err *err);
int sx_meandiff_load(const char *path, int d, float **v, char *hook, size_t hook_sz, sx_err *err);

SX_END_DECLS
#endif
