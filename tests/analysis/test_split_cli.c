/* test_split_cli.c — `saetox analyze split` end to end on planted SAE folders: pairs.csv and
 * families.csv hold exactly the planted families; SAEs with different d_in and a bad
 * threshold give a one-line error and no output. */
#include <sys/wait.h>

#include "analysis.h"
#include "planted.h"
#include "sae.h"
#include "test.h"

static void make_sae(const char *dir, const float *Wdec, int n, int d) {
    sx_sae s;
    memset(&s, 0, sizeof s);
    s.arch = SX_SAE_STANDARD, s.d_in = d, s.d_sae = n, s.apply_b_dec_to_input = 1, s.norm_scale = 1;
    s.W_enc = calloc((size_t)n * d, sizeof(float));
    s.W_dec = malloc((size_t)n * d * sizeof(float));
    memcpy(s.W_dec, Wdec, (size_t)n * d * sizeof(float));
    s.b_enc = calloc((size_t)n, sizeof(float));
    s.b_dec = calloc((size_t)d, sizeof(float));
    snprintf(s.hook_name, sizeof s.hook_name, "blocks.0.hook_resid_post");
    sx_err err;
    if (sx_sae_save(&s, dir, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    sx_sae_free(&s);
}

static int run(const char *cmd, char *errline, size_t n) {
    char full[40000];
    snprintf(full, sizeof full, "%s 2>%s/stderr.txt", cmd, test_tmpdir("analysis_split_cli"));
    int st = system(full);
    char p[4200];
    snprintf(p, sizeof p, "%s/stderr.txt", test_tmpdir("analysis_split_cli"));
    FILE *f = fopen(p, "r");
    errline[0] = 0;
    if (f) {
        if (!fgets(errline, (int)n, f)) errline[0] = 0;
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    const char *bin = getenv("SAETOX_BIN");
    if (!bin) {
        printf("SKIP: SAETOX_BIN not set\n");
        return 77;
    }
    char base[4096], da[4200], db[4200], dc[4200], out[4200], cmd[32768], line[2048];
    snprintf(base, sizeof base, "%s", test_tmpdir("analysis_split_cli"));
    snprintf(da, sizeof da, "%s/relu-64", base);
    snprintf(db, sizeof db, "%s/relu-300", base);
    snprintf(dc, sizeof dc, "%s/relu-d32", base);
    snprintf(out, sizeof out, "%s/out", base);
    float *A = malloc(sizeof(float) * NA * D), *B = malloc(sizeof(float) * NB * D);
    build(A, B);
    make_sae(da, A, NA, D);
    make_sae(db, B, NB, D);
    make_sae(dc, B, NB / 2, D * 2); /* different d_in */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'; '%s' analyze split --sae '%s' --sae '%s' --out '%s' --quiet",
             out, bin, da, db, out);
    CHECK(run(cmd, line, sizeof line) == 0, "split ran: %s", line);
    char p[4300];
    snprintf(p, sizeof p, "%s/pairs.csv", out);
    FILE *f = fopen(p, "r");
    CHECK(f != NULL, "pairs.csv exists");
    int npairs = 0, good = 0;
    if (f) {
        CHECK(fgets(line, sizeof line, f) && !strcmp(line, "small_latent,wide_latent,cosine\n"), "pairs header");
        int a, b;
        float c;
        while (fscanf(f, "%d,%d,%f\n", &a, &b, &c) == 3) npairs++, good += is_planted(a, b) && c >= 0.7f;
        fclose(f);
    }
    CHECK(npairs == 7 && good == 7, "pairs.csv: %d rows, %d planted", npairs, good);
    snprintf(p, sizeof p, "%s/families.csv", out);
    f = fopen(p, "r");
    CHECK(f != NULL, "families.csv exists");
    int rows = 0, ok = 0;
    if (f) {
        CHECK(fgets(line, sizeof line, f) && !strcmp(line, "family_id,sae,latent\n"), "families header");
        while (fgets(line, sizeof line, f)) {
            int fid, lat;
            char sae[64];
            if (sscanf(line, "%d,%63[^,],%d", &fid, sae, &lat) != 3) break;
            rows++;
            if (!strcmp(sae, "relu-64")) ok += fid >= 0 && fid < 4 && PA[fid] == lat;
            else if (!strcmp(sae, "relu-300"))
                for (int c = 0; c < 3; c++) ok += fid >= 0 && fid < 4 && PB[fid][c] == lat;
        }
        fclose(f);
    }
    CHECK(rows == 11 && ok == 11, "families.csv: %d rows, %d as planted", rows, ok);
    /* average linkage: a loose cut keeps the planted families, a tiny one dissolves them */
    char out2[4300], p2[4400], *t1 = NULL, *t2 = NULL;
    size_t l1, l2;
    snprintf(out2, sizeof out2, "%s/out_linkage", base);
    snprintf(cmd, sizeof cmd, "'%s' analyze split --sae '%s' --sae '%s' --linkage average --cut 0.6 --out '%s' --quiet",
             bin, da, db, out2);
    CHECK(run(cmd, line, sizeof line) == 0, "linkage ran: %s", line);
    snprintf(p2, sizeof p2, "%s/families.csv", out2);
    CHECK(sx_read_file(p, 1 << 20, &t1, &l1, NULL) == 0 && sx_read_file(p2, 1 << 20, &t2, &l2, NULL) == 0 &&
          l1 == l2 && !memcmp(t1, t2, l1), "linkage at 0.6 keeps the families");
    free(t1), free(t2), t1 = t2 = NULL;
    snprintf(cmd, sizeof cmd, "'%s' analyze split --sae '%s' --sae '%s' --linkage average --cut 0.0001 --out '%s' --quiet",
             bin, da, db, out2);
    CHECK(run(cmd, line, sizeof line) == 0, "linkage ran: %s", line);
    CHECK(sx_read_file(p2, 1 << 20, &t2, &l2, NULL) == 0 && !strcmp(t2, "family_id,sae,latent\n"),
          "tiny cut: no families");
    free(t2);
    /* bad inputs */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'; '%s' analyze split --sae '%s' --sae '%s' --out '%s'", out,
             bin, da, dc, out);
    CHECK(run(cmd, line, sizeof line) == 1 && strstr(line, "d_in") && strstr(line, "saetox analyze split:"),
          "different d_in: %s", line);
    CHECK(!sx_file_exists(p), "no families.csv after an error");
    snprintf(cmd, sizeof cmd, "'%s' analyze split --sae '%s' --sae '%s' --threshold 2 --out '%s'", bin, da,
             db, out);
    CHECK(run(cmd, line, sizeof line) == 2 && strstr(line, "threshold"), "bad threshold: %s", line);
    snprintf(cmd, sizeof cmd, "'%s' analyze split --sae '%s' --sae '%s/nope' --out '%s'", bin, da, base, out);
    CHECK(run(cmd, line, sizeof line) == 1 && strstr(line, "nope"), "missing SAE: %s", line);
    free(A), free(B);
    return TEST_DONE();
}
