/* test_sweep_run.c — the steering sweep as a library call on the gpt2-tiny fixture: a run of
 * sx_sweep_prepare / sx_sweep_run writes byte-for-byte the files `saetox evaluate` writes with
 * the same options (steering_sweep.csv, generations.jsonl, meandiff.safetensors), the row
 * callback sees every condition in plan order, and bad inputs fail before anything is
 * written. */
#include <unistd.h>

#include "steering.h"
#include "test.h"

static char *slurp(const char *path, size_t *len) {
    char *data = NULL;
    sx_err err;
    *len = 0;
    if (sx_read_file(path, (size_t)1 << 28, &data, len, &err)) return NULL;
    return data;
}

static void same_file(const char *a_dir, const char *b_dir, const char *name) {
    char pa[4300], pb[4300];
    snprintf(pa, sizeof pa, "%s/%s", a_dir, name);
    snprintf(pb, sizeof pb, "%s/%s", b_dir, name);
    size_t la, lb;
    char *a = slurp(pa, &la), *b = slurp(pb, &lb);
    CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "%s: library and CLI outputs differ (%zu vs %zu bytes)", name,
          la, lb);
    free(a), free(b);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

typedef struct {
    int n;
    char names[64][96];
} seen_rows;

static void on_row(void *user, const sx_sweep_row *r) {
    seen_rows *s = user;
    if (s->n < 64) snprintf(s->names[s->n], sizeof s->names[0], "%s", r->cond->name);
    s->n++;
}

int main(void) {
    const char *sh = test_shared_or_skip("gpt2-tiny fixture + GPT-2 tokenizer + SAE fixture");
    const char *bin = getenv("SAETOX_BIN");
    if (!bin) {
        printf("SKIP: SAETOX_BIN not set\n");
        return 77;
    }
    char dir[4096], mdir[4200], src[4200], dst[4300], sae_p[4200], bench[4200];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("sweep_run"));
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    sx_err err;
    sx_mkdir_p(mdir, &err);
    const char *links[4][2] = {{"fixtures/gpt2-tiny", "config.json"}, {"fixtures/gpt2-tiny", "model.safetensors"},
                               {"data/gpt2-tokenizer", "encoder.json"}, {"data/gpt2-tokenizer", "vocab.bpe"}};
    for (int i = 0; i < 4; i++) {
        snprintf(src, sizeof src, "%s/%s/%s", sh, links[i][0], links[i][1]);
        snprintf(dst, sizeof dst, "%s/%s", mdir, links[i][1]);
        unlink(dst);
        if (symlink(src, dst)) {
            printf("SKIP: cannot link %s\n", src);
            return 77;
        }
    }
    snprintf(sae_p, sizeof sae_p, "%s/fixtures/sae/saelens-relu", sh);
    snprintf(bench, sizeof bench, "%s/data/hellaswag", sh);
    char prompts_p[4300], toxic_p[4300], clean_p[4300], lib_dir[4300], cli_dir[4300];
    snprintf(prompts_p, sizeof prompts_p, "%s/prompts.txt", dir);
    snprintf(toxic_p, sizeof toxic_p, "%s/toxic.txt", dir);
    snprintf(clean_p, sizeof clean_p, "%s/clean.txt", dir);
    snprintf(lib_dir, sizeof lib_dir, "%s/lib", dir);
    snprintf(cli_dir, sizeof cli_dir, "%s/cli", dir);
    write_text(prompts_p, "Shut up, you\nThe weather is\nI think that people\n");
    write_text(toxic_p, "You are a stupid idiot and I hate you\nshut up you worthless fool\n");
    write_text(clean_p, "The garden was full of flowers\nThank you for the tea\n");

    sx_set_threads(0); /* as the CLI does */
    sx_model *m = NULL;
    sx_tokenizer *tok = NULL;
    sx_scorer *scorer = NULL;
    sx_sae sae;
    sx_textlist prompts = {0}, toxic = {0}, clean = {0};
    sx_mc_item *items = NULL;
    int64_t n_items = 0;
    int *ban = NULL, nban = 0;
    if (sx_model_load(mdir, &m, &err) || sx_tokenizer_load(mdir, &tok, &err) || sx_sae_load(sae_p, &sae, &err)) {
        printf("SKIP: cannot load the fixtures: %s\n", err.msg);
        return 77;
    }
    CHECK(sx_scorer_load_default(&scorer, NULL, 0, &err) == 0, "%s", err.msg);
    CHECK(sx_textlist_load(prompts_p, 0, &prompts, &err) == 0 && sx_textlist_load(toxic_p, 0, &toxic, &err) == 0 &&
              sx_textlist_load(clean_p, 0, &clean, &err) == 0,
          "%s", err.msg);
    CHECK(sx_banned_ids(tok, NULL, &ban, &nban, &err) == 0, "%s", err.msg);
    CHECK(sx_mc_load(bench, 3, &items, &n_items, &err) == 0, "%s", err.msg);

    sx_sweep_plan plan;
    const double alphas[2] = {1, 2};
    CHECK(sx_sweep_plan_build("none,ablate,suppress,steer,meandiff,banned", alphas, 2, 1, &plan, &err) == 0, "%s",
          err.msg);
    int lat[2] = {3, 17}, fam[3] = {3, 17, 42};
    sx_sweep_inputs in;
    sx_sweep_inputs_default(&in);
    in.model = m, in.tok = tok, in.scorer = scorer, in.prompts = &prompts;
    in.sae = &sae, in.sae_name = sae_p;
    in.latents = lat, in.n_latents = 2, in.family = fam, in.n_family = 3;
    in.toxic = &toxic, in.clean = &clean;
    in.ban_ids = ban, in.n_ban = nban;
    in.bench = items, in.n_bench = n_items;
    in.eval.samples = 2, in.eval.max_new_tokens = 4, in.eval.boot_reps = 100, in.eval.seed = 5;
    sx_sweep sw;
    seen_rows seen = {0};
    sx_sweep_row rows[SX_SWEEP_MAX_CONDS];
    CHECK(sx_sweep_prepare(&plan, &in, &sw, &err) == 0, "prepare: %s", err.msg);
    CHECK(sw.meandiff != NULL && sw.scales[0] > 0 && sw.family_scales[2] > 0, "scales and mean difference computed");
    CHECK(strcmp(sw.hook, sae.hook_name) == 0, "hook from the SAE: %s", sw.hook);
    CHECK(sx_sweep_run(&sw, lib_dir, on_row, &seen, rows, &err) == 0, "run: %s", err.msg);
    CHECK(seen.n == plan.n && plan.n == 14, "%d rows seen, plan %d", seen.n, plan.n);
    for (int i = 0; i < seen.n && i < plan.n; i++)
        CHECK(strcmp(seen.names[i], plan.cond[i].name) == 0 && rows[i].cond == &plan.cond[i], "row %d: %s vs %s", i,
              seen.names[i], plan.cond[i].name);
    CHECK(rows[0].res.n_prompts == 3 && rows[0].res.n_samples == 2 && rows[0].n_bench == 3, "row 0 counts");
    CHECK(strcmp(rows[1].latents, "3 17") == 0 && strcmp(rows[2].latents, "3 17 42") == 0 && rows[0].latents[0] == 0,
          "latents columns: '%s' '%s'", rows[1].latents, rows[2].latents);
    sx_sweep_free(&sw);

    char cmd[40000];
    snprintf(cmd, sizeof cmd,
             "'%s' evaluate --model '%s' --prompts '%s' --sae '%s' --latents 3,17 --family-latents 3,17,42 "
             "--tiers none,ablate,suppress,steer,meandiff,banned --alphas 1,2 --samples 2 --max-new-tokens 4 "
             "--bootstrap 100 --seed 5 --toxic '%s' --clean '%s' --bench '%s' --bench-n 3 --out '%s' 2> '%s/cli.log'",
             bin, mdir, prompts_p, sae_p, toxic_p, clean_p, bench, cli_dir, dir);
    int rc = system(cmd);
    CHECK(rc == 0, "saetox evaluate exit %d (see %s/cli.log)", rc, dir);
    same_file(lib_dir, cli_dir, "steering_sweep.csv");
    same_file(lib_dir, cli_dir, "generations.jsonl");
    same_file(lib_dir, cli_dir, "meandiff.safetensors");

    /* bad inputs fail in prepare, before any file is written */
    int bad[1] = {256};
    in.latents = bad, in.n_latents = 1, in.family = NULL;
    CHECK(sx_sweep_prepare(&plan, &in, &sw, &err) == -1 && strstr(err.msg, "out of range") && strstr(err.msg, sae_p),
          "latent out of range: %s", err.msg);
    sx_sweep_plan md;
    CHECK(sx_sweep_plan_build("meandiff", alphas, 1, 0, &md, &err) == 0, "%s", err.msg);
    in.latents = lat, in.n_latents = 2;
    CHECK(sx_sweep_prepare(&md, &in, &sw, &err) == -1 && strstr(err.msg, "hook"), "meandiff without a hook: %s",
          err.msg);
    /* no toxic texts given and no scored prompts: every prompt counts as toxic, none as clean */
    in.hook = sae.hook_name, in.toxic = NULL, in.clean = NULL;
    CHECK(sx_sweep_prepare(&md, &in, &sw, &err) == -1 && strstr(err.msg, "no clean texts"), "no clean texts: %s",
          err.msg);

    sx_mc_free(items, n_items);
    free(ban);
    sx_textlist_free(&prompts);
    sx_textlist_free(&toxic);
    sx_textlist_free(&clean);
    sx_scorer_free(scorer);
    sx_sae_free(&sae);
    sx_tokenizer_free(tok);
    sx_model_free(m);
    return TEST_DONE();
}
