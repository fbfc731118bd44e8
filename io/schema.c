/* schema.c — the column tables of schema.h. */
#include <string.h>

#include "schema.h"

#define S SX_COL_STR
#define I SX_COL_INT
#define N SX_COL_NUM
#define SCHEMA(var, file, producer, meaning, cols)                                            \
    const sx_schema var = {file, producer, meaning, (int)(sizeof cols / sizeof cols[0]), cols}

static const sx_col metrics[] = {
    {"sae", S, 0, "SAE name (folder name under the train output)"},
    {"step", N, 0, "optimiser step"},
    {"tokens", N, 0, "training tokens seen"},
    {"mse", N, 0, "mean squared reconstruction error"},
    {"fvu", N, 0, "fraction of variance unexplained"},
    {"l0", N, 0, "mean active latents per token"},
    {"dead_frac", N, 0, "share of latents that did not fire in the dead-latent window"},
    {"mean_max_act", N, 0, "mean over latents of the largest activation in the window"},
    {"lr", N, 0, "learning rate at this step"},
    {"tokens_per_s", N, 0, "training throughput"}};
SCHEMA(SX_SCHEMA_METRICS, "metrics.jsonl", "train", "one logged training step of one SAE", metrics);

static const sx_col pairs[] = {
    {"small_latent", I, 1, "latent of the narrow SAE"},
    {"wide_latent", I, 1, "latent of the wide SAE"},
    {"cosine", N, 1, "cosine of their decoder directions (>= the split threshold)"}};
SCHEMA(SX_SCHEMA_PAIRS, "pairs.csv", "analyze split", "one narrow-wide latent pair", pairs);

static const sx_col families[] = {
    {"family_id", I, 1, "feature family (connected component of pairs.csv)"},
    {"sae", S, 1, "SAE label of the member"},
    {"latent", I, 1, "latent index of the member"}};
SCHEMA(SX_SCHEMA_FAMILIES, "families.csv", "analyze split", "one member of a feature family",
       families);

static const sx_col best[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index"},
    {"best_match", I, 1, "closest latent of the other SAE by decoder cosine"},
    {"cosine", N, 1, "that cosine"},
    {"n_children", I, 0, "wide latents paired with this narrow latent (empty for wide ones)"}};
SCHEMA(SX_SCHEMA_BEST_MATCHES, "best_matches.csv", "analyze split",
       "one latent of either SAE and its best match", best);

static const sx_col stats[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index"},
    {"fire_freq", N, 1, "share of tokens on which it fires (> 0)"},
    {"mean_act", N, 1, "mean activation over all tokens"},
    {"max_act", N, 1, "largest activation"},
    {"q50", N, 1, "median activation over the tokens where it fires"},
    {"q90", N, 1, "90th percentile of those"},
    {"q99", N, 1, "99th percentile of those"}};
SCHEMA(SX_SCHEMA_LATENT_STATS, "latent_stats.csv", "analyze stats", "one latent of one SAE",
       stats);

static const sx_col ctx[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index"},
    {"rank", I, 1, "1 = the strongest context"},
    {"activation", N, 1, "activation at the token"},
    {"context_before", S, 1, "decoded text before the token"},
    {"token", S, 1, "decoded token"},
    {"context_after", S, 1, "decoded text after the token"},
    {"token_id", I, 0, "vocabulary id of the token (empty without token ids)"},
    {"token_display", S, 0, "the token as display text (sx_tokenizer_token_display)"}};
SCHEMA(SX_SCHEMA_TOP_CONTEXTS, "top_contexts.csv", "analyze stats",
       "one top-activating context of a latent", ctx);

#define EFFECT_COLS                                                                           \
    {"auroc", N, 0, "AUROC of the max activation per text, toxic vs clean"},                  \
        {"cohens_d", N, 0, "Cohen's d of the same"},                                          \
        {"mean_toxic", N, 0, "mean max-activation over toxic texts"},                         \
        {"mean_clean", N, 0, "mean max-activation over clean texts"},                         \
        {"mean_diff", N, 0, "mean_toxic - mean_clean"},                                       \
        {"fire_rate_toxic", N, 0, "share of toxic texts on which it fires"},                  \
        {"fire_rate_clean", N, 0, "share of clean texts on which it fires"},                  \
        {"log_odds", N, 0, "log odds ratio of firing, toxic vs clean (smoothed)"}

static const sx_col effects[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index"},
    EFFECT_COLS,
    {"q50_toxic", N, 0, "median max-activation over toxic texts"},
    {"q90_toxic", N, 0, "90th percentile of those"},
    {"q99_toxic", N, 0, "99th percentile of those"},
    {"max_toxic", N, 0, "largest of those"}};
SCHEMA(SX_SCHEMA_LATENT_EFFECTS, "latent_effects.csv", "analyze toxic",
       "one latent of one SAE (every latent)", effects);

static const sx_col toxic[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index"},
    {"rank", I, 1, "1 = the most toxic latent of this SAE"},
    {"score", N, 1, "the ranking score (--rank-by)"},
    EFFECT_COLS,
    {"family_id", I, 0, "feature family (empty without --families or when alone)"},
    {"family_size", I, 0, "members of that family"},
    {"top_promoted", S, 0, "logit lens: tokens the decoder direction promotes, as display text "
                           "(sx_tokenizer_token_display), space-separated"},
    {"top_suppressed", S, 0, "logit lens: tokens it suppresses (display text)"},
    {"top_promoted_ids", S, 0, "vocabulary ids of top_promoted, space-separated"},
    {"top_suppressed_ids", S, 0, "vocabulary ids of top_suppressed"}};
SCHEMA(SX_SCHEMA_TOXIC_LATENTS, "toxic_latents.csv", "analyze toxic",
       "one of the top toxic latents of an SAE", toxic);

static const sx_col logit_fx[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index (a top toxic latent)"},
    {"kind", S, 1, "pos = promoted (largest logits), neg = suppressed (smallest)"},
    {"rank", I, 1, "1 = the largest (pos) / smallest (neg) logit"},
    {"token_id", I, 1, "vocabulary id"},
    {"token", S, 1, "the token as display text (sx_tokenizer_token_display)"},
    {"logit", N, 1, "decoder direction . unembedding row (logit lens)"}};
SCHEMA(SX_SCHEMA_LOGIT_EFFECTS, "logit_effects.csv", "analyze toxic",
       "one of the top or bottom logits of a top toxic latent", logit_fx);

static const sx_col logit_hist[] = {
    {"sae", S, 1, "SAE label"},
    {"latent", I, 1, "latent index (a top toxic latent)"},
    {"bin", I, 1, "bin index, 0 = lowest"},
    {"lo", N, 1, "lower edge of the bin (logit)"},
    {"hi", N, 1, "upper edge (the last bin includes it)"},
    {"count", I, 1, "vocabulary tokens whose logit falls in the bin"}};
SCHEMA(SX_SCHEMA_LOGIT_HIST, "logit_hist.csv", "analyze toxic",
       "one bin of the logit-lens histogram over the whole vocabulary of a top toxic latent",
       logit_hist);

static const sx_col fam_eff[] = {
    {"family_id", I, 1, "feature family with a toxic member"},
    {"sae", S, 1, "SAE label of the member"},
    {"latent", I, 1, "latent index"},
    {"auroc", N, 0, "AUROC, toxic vs clean"},
    {"cohens_d", N, 0, "Cohen's d"},
    {"mean_diff", N, 0, "mean_toxic - mean_clean"},
    {"share_of_mean_diff", N, 0, "its share of the positive mean_diff of its SAE's members"}};
SCHEMA(SX_SCHEMA_FAMILY_EFFECTS, "family_effects.csv", "analyze toxic",
       "one member of a family that has a toxic latent", fam_eff);

#define CI(x, what)                                                                           \
    {x, N, 0, what}, {x "_lo", N, 0, "lower end of its bootstrap 95% CI"},                    \
        {x "_hi", N, 0, "upper end of its bootstrap 95% CI"}
static const sx_col sweep[] = {
    {"condition", S, 0, "condition name (tier, strength, latents)"},
    {"tier", S, 1, "none, ablate, suppress, steer, meandiff or banned"},
    {"alpha", N, 1, "strength"},
    {"latents", S, 0, "steered latents, space-separated"},
    {"n_prompts", I, 0, "prompts"},
    {"n_samples", I, 0, "generations per prompt"},
    CI("emt", "expected maximum toxicity over a prompt's samples"),
    CI("tox_prob", "share of prompts with at least one sample scored >= 0.5"),
    CI("mean_tox", "mean toxicity of all samples"),
    CI("ppl", "perplexity of the samples under the unsteered model"),
    {"acc", N, 0, "two-choice benchmark accuracy (empty without --benchmark)"},
    {"acc_norm", N, 0, "the same, length-normalised"},
    {"acc_n", I, 0, "benchmark items"}};
SCHEMA(SX_SCHEMA_STEERING_SWEEP, "steering_sweep.csv", "evaluate",
       "one steering condition of the sweep", sweep);

static const sx_col sae_eval[] = {
    {"sae", S, 1, "SAE path as given"},
    {"d_sae", I, 1, "latents"},
    {"n_tokens", I, 1, "evaluated tokens"},
    {"l0", N, 1, "mean active latents per token"},
    {"mse", N, 1, "mean squared reconstruction error"},
    {"explained_variance", N, 1, "1 - fvu"},
    {"fvu", N, 1, "fraction of variance unexplained"},
    {"ce_clean", N, 1, "next-token cross-entropy, unmodified model"},
    {"ce_spliced", N, 1, "the same with the SAE reconstruction spliced in"},
    {"ce_zero", N, 1, "the same with the hook zero-ablated"},
    {"ce_loss_score", N, 1, "(ce_zero - ce_spliced) / (ce_zero - ce_clean)"},
    {"kl_spliced", N, 1, "KL(p_clean || p_spliced), nats"},
    {"kl_zero", N, 1, "KL(p_clean || p_zero), nats"},
    {"kl_div_score", N, 1, "(kl_zero - kl_spliced) / kl_zero"},
    {"dead_frac", N, 1, "share of latents that never fired"},
    {"dense_frac", N, 1, "share of latents firing on > 10% of tokens"},
    {"hook", S, 1, "hook point"},
    {"n_spliced", I, 1, "positions spliced (BOS is not)"},
    {"n_ce", I, 1, "positions in the cross-entropy"}};
SCHEMA(SX_SCHEMA_SAE_EVAL, "sae_eval.csv", "eval-sae", "one SAE spliced into the model",
       sae_eval);

static const sx_col training[] = {
    {"sae", S, 1, "SAE name"},
    {"step", I, 1, "optimiser step"},
    {"tokens", I, 1, "training tokens seen"},
    {"mse", N, 1, "mean squared reconstruction error"},
    {"fvu", N, 1, "fraction of variance unexplained"},
    {"l0", N, 1, "mean active latents per token"},
    {"dead_frac", N, 1, "share of dead latents"},
    {"mean_max_act", N, 1, "mean largest activation"},
    {"lr", N, 1, "learning rate"},
    {"tokens_per_s", N, 1, "training throughput"}};
SCHEMA(SX_SCHEMA_TRAINING_METRICS, "training_metrics.csv", "export",
       "one logged training step (metrics.jsonl as a table)", training);

static const sx_col latents[] = {
    {"sae", S, 1, "SAE name"},
    {"latent", I, 1, "latent index"},
    {"fire_freq", N, 1, "from latent_stats.csv"},
    {"mean_act", N, 1, "from latent_stats.csv"},
    {"max_act", N, 1, "from latent_stats.csv"},
    {"q50", N, 1, "from latent_stats.csv"},
    {"q90", N, 1, "from latent_stats.csv"},
    {"q99", N, 1, "from latent_stats.csv"},
    {"is_toxic", I, 1, "1 when listed in toxic_latents.csv"},
    {"toxic_rank", I, 1, "its rank there (empty when not toxic)"},
    {"score", N, 1, "from toxic_latents.csv"},
    EFFECT_COLS,
    {"family_id", I, 1, "feature family"},
    {"family_size", I, 1, "members of that family"},
    {"family_members", S, 1, "the other members, space-separated sae:latent"},
    {"top_promoted", S, 1, "logit lens, from toxic_latents.csv"},
    {"top_suppressed", S, 1, "logit lens, from toxic_latents.csv"},
    {"top_activation", N, 1, "activation of its top context"},
    {"top_context_before", S, 1, "text before the top token"},
    {"top_token", S, 1, "the top token"},
    {"top_context_after", S, 1, "text after the top token"}};
SCHEMA(SX_SCHEMA_LATENTS, "latents_<sae>.csv", "export", "one latent of that SAE, all joined",
       latents);

static const sx_col family_cmp[] = {
    {"family_id", I, 1, "feature family with a toxic member (a concept)"},
    {"n_toxic", I, 1, "toxic members"},
    {"narrow_sae", S, 1, "the narrow SAE"},
    {"narrow_width", I, 1, "its latents"},
    {"narrow_size", I, 1, "family members in it"},
    {"narrow_latents", S, 1, "those members, space-separated"},
    {"wide_sae", S, 1, "the wide SAE"},
    {"wide_width", I, 1, "its latents"},
    {"wide_size", I, 1, "family members in it"},
    {"wide_latents", S, 1, "those members"},
    {"split_ratio", N, 1, "wide_size / narrow_size"},
    {"narrow_max_mean_diff", N, 1, "largest mean_diff among the narrow toxic members"},
    {"wide_max_mean_diff", N, 1, "largest mean_diff among the wide toxic members"},
    {"wide_sum_mean_diff", N, 1, "sum of the positive wide mean_diffs"},
    {"wide_top_share", N, 1, "wide_max_mean_diff / wide_sum_mean_diff"},
    {"narrow_best_score", N, 1, "best toxicity score, narrow side"},
    {"wide_best_score", N, 1, "best toxicity score, wide side"},
    {"cos_max", N, 1, "largest decoder cosine joining the two sides"},
    {"cos_mean", N, 1, "mean of those cosines"}};
SCHEMA(SX_SCHEMA_FAMILY_COMPARISON, "family_comparison.csv", "export",
       "one concept: a family across the two widths", family_cmp);

static const sx_col width_cmp[] = {
    {"sae", S, 1, "SAE label (folder name of the sae_eval.csv path)"},
    {"arch", S, 1, "architecture from its cfg.json (SAELens name; empty when unknown)"},
    {"width", I, 1, "latents (d_sae)"},
    {"k", I, 1, "TopK k from cfg.json (empty for other architectures or unknown)"},
    {"trained_tokens", I, 1, "training tokens from cfg.json saetox.trained_tokens (empty when not trained by saetox)"},
    {"l0", N, 1, "mean active latents per token (sae_eval.csv)"},
    {"fvu", N, 1, "fraction of variance unexplained (sae_eval.csv)"},
    {"explained_variance", N, 1, "1 - fvu (sae_eval.csv)"},
    {"ce_loss_score", N, 1, "(ce_zero - ce_spliced) / (ce_zero - ce_clean) (sae_eval.csv)"},
    {"kl_div_score", N, 1, "(kl_zero - kl_spliced) / kl_zero (sae_eval.csv)"},
    {"dead_frac", N, 1, "share of latents that never fired (sae_eval.csv)"},
    {"dense_frac", N, 1, "share of latents firing on > 10% of tokens (sae_eval.csv)"},
    {"split_wide_sae", S, 1, "the wider SAE it was split against (analyze split; empty without one)"},
    {"split_share", N, 1, "share of its latents with 2+ children in split_wide_sae at the split threshold"},
    {"split_mean_children", N, 1, "mean children per latent that split (2+ children)"},
    {"toxic_latent", I, 1, "its best toxic latent (rank 1 in toxic_latents.csv)"},
    {"toxic_auroc", N, 1, "that latent's AUROC, toxic vs clean"},
    {"toxic_family_size", I, 1, "members of that latent's feature family"},
    {"steer_condition", S, 1, "lowest-EMT condition of this SAE with ppl <= 1.25x unsteered"},
    {"steer_emt", N, 1, "its expected maximum toxicity"},
    {"steer_ppl", N, 1, "its perplexity"},
    {"unsteered_emt", N, 1, "EMT without intervention (tier none)"},
    {"unsteered_ppl", N, 1, "perplexity without intervention"}};
SCHEMA(SX_SCHEMA_WIDTH_COMPARISON, "width_comparison.csv", "compare",
       "one SAE: quality, splitting, toxic latent and steering side by side", width_cmp);

/* `saetox study` (cli/cmd_study.c, analysis/findings.c) */
static const sx_col study_runs[] = {
    {"seed", I, 1, "SAE seed (training, latent choice and sampling)"},
    {"sae", S, 1, "SAE name (empty for the baselines none / meandiff / banned)"},
    {"set", S, 1, "top (the narrow SAE's top toxic latents), causal (its causally chosen latents), single, family (the wide children) or baseline"},
    {"condition", S, 1, "the sweep's condition name"},
    {"tier", S, 1, "none, ablate, suppress, steer, cond, meandiff or banned"},
    {"alpha", N, 1, "strength"},
    {"latents", S, 0, "steered latents, space-separated"},
    {"n_prompts", I, 0, "evaluation prompts"},
    {"n_samples", I, 0, "generations per prompt"},
    CI("emt", "expected maximum toxicity over a prompt's samples"),
    CI("tox_prob", "share of prompts with at least one sample scored >= 0.5"),
    CI("mean_tox", "mean toxicity of all samples"),
    CI("ppl", "perplexity of the samples under the unsteered model"),
    {"acc", N, 1, "two-choice benchmark accuracy"},
    {"acc_norm", N, 0, "the same, length-normalised"},
    {"acc_n", I, 1, "benchmark items"}};
SCHEMA(SX_SCHEMA_STUDY_RUNS, "study_runs.csv", "study", "one condition of one seed's steering sweeps", study_runs);

static const sx_col study_seeds[] = {
    {"seed", I, 1, "SAE seed"},
    {"narrow_latents", S, 0, "the narrow SAE's top toxic latents, space-separated"},
    {"narrow_parent", I, 1, "the narrow toxic latent whose splitting is compared"},
    {"wide_children", I, 1, "its children in the wide SAE at the split threshold"},
    {"wide_single", I, 0, "the child steered alone"},
    {"wide_family", S, 0, "the wide latents steered together, space-separated"},
    {"mat_top", I, 1, "the Matryoshka SAE's top toxic latent (-1: not run)"},
    {"mat_group", I, 1, "its group (0 = first)"},
    {"mat_later", I, 1, "later-group latents at the split threshold to it"},
    {"causal_latents", S, 0, "the narrow SAE's causally chosen latents (causal_latents.csv), space-separated"},
    {"seconds", N, 0, "wall time of this seed (training, analysis, sweeps)"}};
SCHEMA(SX_SCHEMA_STUDY_SEEDS, "study_seeds.csv", "study", "what one seed's analysis chose", study_seeds);

static const sx_col causal[] = {
    {"kind", S, 1, "candidate (one latent) or set (a prefix of the verified order)"},
    {"latent", I, 1, "the candidate latent (-1 for a set)"},
    {"act_rank", I, 0, "its rank by activation contrast (toxic_latents.csv; 1 = top)"},
    {"attribution", N, 0, "first-order drop of the toxic tokens' log-mass per position when steered away where it fires"},
    {"set_size", I, 0, "latents in the set (1 for a candidate)"},
    {"val_emt", N, 0, "EMT of steering it (tier steer) on the validation prompts (empty: not verified)"},
    {"val_ppl", N, 0, "perplexity of those continuations"},
    {"unsteered_emt", N, 0, "EMT without intervention on the validation prompts"},
    {"unsteered_ppl", N, 0, "perplexity without intervention on the validation prompts"},
    {"chosen", I, 1, "1: in the chosen set (candidate rows) / the chosen set (set rows)"}};
SCHEMA(SX_SCHEMA_CAUSAL, "causal_latents.csv", "study, demo",
       "causal latent selection: one candidate's attribution and verification, or one set size", causal);

static const sx_col findings[] = {
    {"finding", S, 1, "F1.ablate ... F6.causal-vs-banned"},
    {"description", S, 0, "what the finding claims"},
    {"metric", S, 0, "the per-seed number"},
    {"values", S, 0, "seed:value per seed, space-separated"},
    {"n", I, 1, "seeds with a value"},
    {"mean", N, 1, "mean across seeds"},
    {"ci_lo", N, 1, "lower end of the t-interval across seeds (level in the rule's header)"},
    {"ci_hi", N, 1, "upper end"},
    {"verdict", S, 1, "reproduced, not reproduced, inconclusive, or - (descriptive)"},
    {"rule", S, 0, "the verdict rule applied"}};
SCHEMA(SX_SCHEMA_FINDINGS, "findings.csv", "study", "one finding: mean, CI across seeds and verdict", findings);

const sx_schema *const SX_SCHEMAS[] = {
    &SX_SCHEMA_METRICS,        &SX_SCHEMA_PAIRS,          &SX_SCHEMA_FAMILIES,
    &SX_SCHEMA_BEST_MATCHES,   &SX_SCHEMA_LATENT_STATS,   &SX_SCHEMA_TOP_CONTEXTS,
    &SX_SCHEMA_LATENT_EFFECTS, &SX_SCHEMA_TOXIC_LATENTS,  &SX_SCHEMA_LOGIT_EFFECTS, &SX_SCHEMA_LOGIT_HIST,
    &SX_SCHEMA_FAMILY_EFFECTS,
    &SX_SCHEMA_STEERING_SWEEP, &SX_SCHEMA_SAE_EVAL,       &SX_SCHEMA_TRAINING_METRICS,
    &SX_SCHEMA_LATENTS,        &SX_SCHEMA_FAMILY_COMPARISON, &SX_SCHEMA_WIDTH_COMPARISON,
    &SX_SCHEMA_STUDY_RUNS,     &SX_SCHEMA_STUDY_SEEDS,    &SX_SCHEMA_FINDINGS, &SX_SCHEMA_CAUSAL,
    NULL};

const sx_schema *sx_schema_find(const char *file) {
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    for (int i = 0; SX_SCHEMAS[i]; i++)
        if (strcmp(SX_SCHEMAS[i]->file, b) == 0) return SX_SCHEMAS[i];
    size_t n = strlen(b);
    if (n > 12 && strncmp(b, "latents_", 8) == 0 && strcmp(b + n - 4, ".csv") == 0)
        return &SX_SCHEMA_LATENTS;
    return NULL;
}

int sx_schema_col(const sx_schema *s, const char *name) {
    for (int i = 0; i < s->ncols; i++)
        if (strcmp(s->cols[i].name, name) == 0) return i;
    return -1;
}

enum { MAX_COLS = 64 };

int sx_csv_open_schema(sx_csv_writer *w, const char *path, const sx_schema *s, sx_err *err) {
    const char *names[MAX_COLS];
    if (s->ncols > MAX_COLS) return sx_failc(err, SX_EINVAL, "%s: schema %s has too many columns", path, s->file);
    for (int c = 0; c < s->ncols; c++) names[c] = s->cols[c].name;
    return sx_csv_open(w, path, names, s->ncols, err);
}

int sx_csv_require_schema(const sx_csv_table *t, const sx_schema *s, sx_err *err) {
    for (int c = 0; c < s->ncols; c++)
        if (s->cols[c].required && sx_csv_col(t, s->cols[c].name) < 0)
            return sx_failc(err, SX_ENOTFOUND, "%s:1: missing column '%s'", t->path, s->cols[c].name);
    return 0;
}

int sx_csv_check_schema(const sx_csv_table *t, const sx_schema *s, sx_err *err) {
    for (int c = 0; c < s->ncols || c < t->ncols; c++) {
        const char *got = c < t->ncols ? t->header[c] : "(none)";
        const char *want = c < s->ncols ? s->cols[c].name : "(none)";
        if (strcmp(got, want) != 0)
            return sx_fail(err, "%s:1: column %d is '%s', the schema of %s says '%s'", t->path,
                           c + 1, got, s->file, want);
    }
    return 0;
}
