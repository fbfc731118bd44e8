/* test_toxic_planted.c — `analyze toxic` finds a planted latent.  On gpt2-tiny at
 * blocks.0.hook_resid_pre (= token + position embedding), latent 3 of a hand-built SAE reads
 * the embedding direction of " banana" (encoder = that unit direction, bias -0.4) and writes
 * it back (decoder).  Toxic documents contain " banana", clean ones do not: latent 3 must
 * rank first with AUROC 1 under --policy max, fire on no clean document, and its logit lens
 * must promote " banana" ("Ġbanana") first. */
#include <sys/wait.h>

#include "analysis.h"
#include "models.h"
#include "sae.h"
#include "test.h"

enum { DS = 16, BANANA = 25996 };

int main(void) {
    const char *sh = test_shared_or_skip("the gpt2-tiny fixture and the GPT-2 tokenizer");
    const char *bin = getenv("SAETOX_BIN");
    char model[4200], tokdir[4200], dir[4096], sae_dir[4200], tox[4200], clean[4200], out[4200];
    snprintf(model, sizeof model, "%s/fixtures/gpt2-tiny", sh);
    snprintf(tokdir, sizeof tokdir, "%s/data/gpt2-tokenizer", sh);
    snprintf(dir, sizeof dir, "%s", test_tmpdir("analysis_toxic_planted"));
    snprintf(sae_dir, sizeof sae_dir, "%s/planted-16", dir);
    snprintf(tox, sizeof tox, "%s/toxic.txt", dir);
    snprintf(clean, sizeof clean, "%s/clean.txt", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    sx_err err;
    sx_model *m;
    if (sx_model_load(model, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int d = sx_model_cfg(m)->d_model;
    float *u = malloc(sizeof(float) * d);
    sx_model_embedding_row(m, BANANA, u);
    double nrm = 0;
    for (int k = 0; k < d; k++) nrm += (double)u[k] * u[k];
    for (int k = 0; k < d; k++) u[k] /= (float)sqrt(nrm);
    sx_model_free(m);

    sx_sae s;
    memset(&s, 0, sizeof s);
    s.arch = SX_SAE_STANDARD, s.d_in = d, s.d_sae = DS, s.norm_scale = 1, s.apply_b_dec_to_input = 0;
    s.W_enc = calloc((size_t)d * DS, sizeof(float));
    s.W_dec = calloc((size_t)d * DS, sizeof(float));
    s.b_enc = calloc(DS, sizeof(float));
    s.b_dec = calloc((size_t)d, sizeof(float));
    sx_rng r;
    sx_rng_seed(&r, 5);
    for (int j = 0; j < DS; j++)
        for (int k = 0; k < d; k++) {
            float w = (float)(0.1 * sx_rng_normal(&r));
            s.W_enc[(size_t)k * DS + j] = j == 3 ? u[k] : w;
            s.W_dec[(size_t)j * d + k] = j == 3 ? u[k] : w;
        }
    s.b_enc[3] = -0.4f;
    snprintf(s.hook_name, sizeof s.hook_name, "blocks.0.hook_resid_pre");
    CHECK(sx_sae_save(&s, sae_dir, &err) == 0, "%s", err.msg);
    free(u);
    sx_sae_free(&s);

    const char *words[] = {"the", "house", "was", "quiet", "and", "a", "dog", "slept", "near", "door"};
    FILE *ft = fopen(tox, "w"), *fc = fopen(clean, "w");
    for (int i = 0; i < 30; i++) {
        for (int k = 0; k < 8; k++) {
            fprintf(ft, "%s%s", k ? " " : "", k == (i % 7) + 1 ? "banana" : words[(i + 3 * k) % 10]);
            fprintf(fc, "%s%s", k ? " " : "", words[(i * 7 + k) % 10]);
        }
        fputc('\n', ft), fputc('\n', fc);
    }
    fclose(ft), fclose(fc);
    char cmd[40000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'; '%s' analyze toxic --model '%s' --tokenizer '%s' --sae '%s' "
             "--toxic 'text:%s' --clean 'text:%s' --policy max --top 4 --quiet --out '%s'",
             out, bin, model, tokdir, sae_dir, tox, clean, out);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "analyze toxic ran (%d)", st);
    char p[4300], *txt = NULL;
    size_t len;
    snprintf(p, sizeof p, "%s/toxic_latents.csv", out);
    CHECK(sx_read_file(p, 1 << 20, &txt, &len, &err) == 0, "%s", err.msg);
    if (txt) {
        char *row = strchr(txt, '\n');
        row = row ? row + 1 : txt;
        int lat = -1, rank = -1;
        double score = -1, auroc = -1;
        CHECK(sscanf(row, "planted-16,%d,%d,%lf,%lf", &lat, &rank, &score, &auroc) == 4, "row: %.80s", row);
        CHECK(lat == 3 && rank == 1, "planted latent ranks first (got latent %d)", lat);
        CHECK_NEAR(auroc, 1.0, 1e-9, "planted auroc");
        /* fire_rate_toxic (10th field) 1, fire_rate_clean 0; promoted tokens (display text,
         * sx_tokenizer_token_display: the leading space as U+2423) start with "\u2423banana" */
        char *f = row;
        for (int k = 0; k < 9 && f; k++) f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        CHECK(f && strncmp(f, "1.000000,0.000000,", 18) == 0, "fire rates: %.30s", f ? f : "");
        for (int k = 0; k < 5 && f; k++) f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        CHECK(f && strncmp(f, "\xe2\x90\xa3" "banana ", 10) == 0, "logit lens top token: %.40s", f ? f : "");
        free(txt);
    }
    snprintf(p, sizeof p, "%s/latent_effects.csv", out);
    CHECK(sx_file_exists(p), "latent_effects.csv");
    double col[DS];
    int64_t nr = 0;
    CHECK(sx_ana_read_latent_column(p, "planted-16", "auroc", DS, col, &nr, &err) == 0, "%s", err.msg);
    CHECK(nr == DS && col[3] == 1.0, "auroc column read back (%lld rows, %g)", (long long)nr, col[3]);
    CHECK(sx_ana_read_latent_column(p, NULL, "q99_toxic", DS, col, &nr, &err) == 0 && col[3] > 0,
          "q99_toxic scale for steering: %g", col[3]);
    CHECK(sx_ana_read_latent_column(p, NULL, "q99_toxic", 2, col, &nr, &err) == -1 &&
          strstr(err.msg, "beyond d_sae"), "latent beyond d_sae: %s", err.msg);
    int32_t lats[4];
    snprintf(p, sizeof p, "%s/toxic_latents.csv", out);
    CHECK(sx_ana_read_toxic_latents(p, NULL, lats, 4, &err) == 4 && lats[0] == 3, "toxic latents read back");
    return TEST_DONE();
}
