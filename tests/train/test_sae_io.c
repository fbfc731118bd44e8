/* test_sae_io.c — SAE formats and inference: the three fixture SAEs reproduce their expected
 * outputs within 1e-5 (library and `saetox sae-encode`), save/load round trips (with the
 * norm-scale folding), top-k selection, and malformed .npy / cfg inputs are rejected. */
#include <stdint.h>

#include "sae.h"
#include "sae_internal.h"
#include "test.h"

static const char *NAMES[3] = {"saelens-relu", "saelens-jumprelu", "gemmascope-jumprelu"};

static float *read_t(const char *path, const char *name, int64_t *rows, int64_t cols) {
    sx_safetensors st;
    sx_err err = {0};
    float *v = NULL;
    int64_t shape[2] = {-1, cols};
    if (sx_st_open(&st, path, &err) || sx_st_read_f32(&st, name, 2, shape, &v, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    *rows = sx_st_find(&st, name)->shape[0];
    sx_st_close(&st);
    return v;
}

static void check_fixture(const char *shared, int which, const char *tmp) {
    char dir[4200], sae_path[4300], exp[4300], out[4300], cmd[13000];
    snprintf(dir, sizeof dir, "%s/fixtures/sae/%s", shared, NAMES[which]);
    snprintf(sae_path, sizeof sae_path, "%s%s", dir, which == 2 ? "/params.npz" : "");
    snprintf(exp, sizeof exp, "%s/expected.safetensors", dir);
    sx_sae sae;
    sx_err err = {0};
    int rc = sx_sae_load(sae_path, &sae, &err);
    CHECK(rc == 0, "load %s: %s", NAMES[which], err.msg);
    if (rc) return;
    CHECK(sae.d_in == 64 && sae.d_sae == 256, "%s shape", NAMES[which]);
    CHECK(sae.apply_b_dec_to_input == (which != 2), "%s b_dec convention", NAMES[which]);
    int64_t n, n2;
    float *x = read_t(exp, "x", &n, 64), *pre = read_t(exp, "hidden_pre", &n2, 256),
          *acts = read_t(exp, "feature_acts", &n2, 256), *rec = read_t(exp, "reconstruction", &n2, 64);
    CHECK(x && pre && acts && rec && n == 20, "%s: expected tensors", NAMES[which]);
    if (!(x && pre && acts && rec)) return;
    float *ga = malloc(n * 256 * 4), *gp = malloc(n * 256 * 4), *gr = malloc(n * 64 * 4);
    CHECK(sx_sae_encode(&sae, x, n, ga, gp, &err) == 0, "encode: %s", err.msg);
    sx_sae_decode(&sae, ga, n, gr);
    double e1 = test_max_abs_diff(gp, pre, n * 256), e2 = test_max_abs_diff(ga, acts, n * 256),
           e3 = test_max_abs_diff(gr, rec, n * 64);
    printf("%s: max |err| hidden_pre %.3g feature_acts %.3g reconstruction %.3g\n", NAMES[which], e1, e2, e3);
    CHECK(e1 <= 1e-5 && e2 <= 1e-5 && e3 <= 1e-5, "%s: library outputs off by %g %g %g", NAMES[which], e1, e2, e3);

    /* the CLI path */
    const char *bin = getenv("SAETOX_BIN");
    if (bin) {
        snprintf(out, sizeof out, "%s/%s.out.safetensors", tmp, NAMES[which]);
        snprintf(cmd, sizeof cmd, "'%s' sae-encode --sae '%s' --in '%s' --out '%s'", bin, sae_path, exp, out);
        CHECK(system(cmd) == 0, "%s failed", cmd);
        int64_t m;
        float *ca = read_t(out, "feature_acts", &m, 256), *cr = read_t(out, "reconstruction", &m, 64),
              *cp = read_t(out, "hidden_pre", &m, 256);
        CHECK(ca && cr && cp, "CLI output tensors");
        if (ca && cr && cp) {
            double d1 = test_max_abs_diff(ca, acts, n * 256), d2 = test_max_abs_diff(cr, rec, n * 64),
                   d3 = test_max_abs_diff(cp, pre, n * 256);
            CHECK(d1 <= 1e-5 && d2 <= 1e-5 && d3 <= 1e-5, "%s CLI off by %g %g %g", NAMES[which], d1, d2, d3);
        }
        free(ca), free(cr), free(cp);
    }
    free(x), free(pre), free(acts), free(rec), free(ga), free(gp), free(gr);
    sx_sae_free(&sae);
}

/* Save with a norm scale, reload: the folded SAE must give the same acts on raw inputs. */
static void check_roundtrip(const char *tmp) {
    sx_err err = {0};
    sx_rng rng;
    sx_rng_seed(&rng, 7);
    for (int arch = SX_SAE_STANDARD; arch <= SX_SAE_GATED; arch++) {
        sx_sae a, b;
        CHECK(sx_sae_alloc(&a, (sx_sae_arch)arch, 16, 40, 5, &err) == 0, "alloc");
        for (int i = 0; i < 16 * 40; i++) a.W_enc[i] = (float)sx_rng_normal(&rng), a.W_dec[i] = (float)sx_rng_normal(&rng);
        for (int i = 0; i < 40; i++) a.b_enc[i] = (float)(0.1 * sx_rng_normal(&rng));
        for (int i = 0; i < 16; i++) a.b_dec[i] = (float)sx_rng_normal(&rng);
        if (a.threshold)
            for (int i = 0; i < 40; i++) a.threshold[i] = (float)(0.5 * sx_rng_uniform(&rng));
        if (a.r_mag) /* gated: b_enc is b_gate */
            for (int i = 0; i < 40; i++) a.r_mag[i] = (float)(0.3 * sx_rng_normal(&rng)), a.b_mag[i] = (float)(0.2 * sx_rng_normal(&rng));
        if (arch == SX_SAE_MATRYOSHKA) a.n_groups = 3, a.groups[0] = 4, a.groups[1] = 16, a.groups[2] = 40;
        a.norm_scale = 0.25f;
        snprintf(a.hook_name, sizeof a.hook_name, "blocks.3.hook_resid_post");
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/rt-%d", tmp, arch);
        CHECK(sx_sae_save(&a, dir, &err) == 0, "save: %s", err.msg);
        CHECK(sx_sae_load(dir, &b, &err) == 0, "reload: %s", err.msg);
        int topk = arch == SX_SAE_TOPK || arch == SX_SAE_BATCHTOPK || arch == SX_SAE_MATRYOSHKA;
        CHECK(b.arch == a.arch && b.k == (topk ? 5 : b.k), "arch/k round trip (%d)", arch);
        CHECK(b.n_groups == a.n_groups && memcmp(b.groups, a.groups, sizeof a.groups) == 0, "groups round trip (%d)", arch);
        CHECK((b.r_mag != NULL) == (arch == SX_SAE_GATED) && (!b.r_mag || memcmp(b.r_mag, a.r_mag, 40 * sizeof(float)) == 0),
              "r_mag round trip, unchanged by folding (%d)", arch);
        CHECK(b.norm_scale == 1.0f && strcmp(b.hook_name, a.hook_name) == 0, "folded scale, hook");
        float x[8 * 16], fa[8 * 40], fb[8 * 40], ra[8 * 16], rb[8 * 16];
        for (int i = 0; i < 8 * 16; i++) x[i] = (float)(4 * sx_rng_normal(&rng));
        sx_sae_encode(&a, x, 8, fa, NULL, &err);
        sx_sae_encode(&b, x, 8, fb, NULL, &err);
        sx_sae_decode(&a, fa, 8, ra);
        sx_sae_decode(&b, fb, 8, rb);
        for (int i = 0; i < 8 * 40; i++) fa[i] /= a.norm_scale; /* folded acts are in raw units */
        CHECK(test_max_abs_diff(fa, fb, 8 * 40) < 1e-4, "acts after folding (arch %d): %g", arch,
              test_max_abs_diff(fa, fb, 8 * 40));
        CHECK(memcmp(b.W_dec, a.W_dec, 16 * 40 * sizeof(float)) == 0, "decoder unchanged by folding");
        CHECK(test_max_abs_diff(ra, rb, 8 * 16) < 1e-4, "recon after folding (arch %d)", arch);
        if (arch == SX_SAE_TOPK)
            for (int r = 0; r < 8; r++) {
                int nz = 0;
                for (int j = 0; j < 40; j++) nz += fa[r * 40 + j] != 0;
                CHECK(nz <= 5, "topk keeps at most k: %d", nz);
            }
        sx_sae_free(&a);
        sx_sae_free(&b);
    }
}

static void check_topk_select(void) {
    float v[10] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, hv[4];
    int hi[4], seen[10] = {0};
    sx_topk_select(v, 10, 4, hv, hi);
    for (int q = 0; q < 4; q++) seen[hi[q]] = 1;
    /* top 4 of the values: 9(5), 6(7), 5(4), 5(8): ties keep both 5s */
    CHECK(seen[5] && seen[7] && seen[4] && seen[8], "topk picks 9,6,5,5");
}

static void npy_reject(const char *hdr, const char *needle) {
    unsigned char buf[256];
    size_t hl = strlen(hdr);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hl, buf[9] = 0;
    memcpy(buf + 10, hdr, hl);
    memset(buf + 10 + hl, 0, 16);
    sx_npy_array a;
    sx_err err = {0};
    int rc = sx_npy_parse(buf, 10 + hl + 16, "m.npy", &a, &err);
    CHECK(rc == -1 && strstr(err.msg, needle), "npy '%s' -> '%s'", hdr, err.msg);
    if (!rc) free(a.data);
}

static void check_npy(void) {
    npy_reject("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", "dtype");
    npy_reject("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", "fortran");
    npy_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", "bytes");
    npy_reject("{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", "dtype");
    npy_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (4,", "malformed");
    npy_reject("{'descr': '<f4', 'shape': (4,), }", "lacks");
    npy_reject("['descr']", "not a dict");
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    unsigned char buf[256];
    size_t hl = strlen(ok);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hl, buf[9] = 0;
    memcpy(buf + 10, ok, hl);
    float vals[4] = {1, 2, 3, 4.5f};
    memcpy(buf + 10 + hl, vals, 16);
    sx_npy_array a;
    sx_err err = {0};
    CHECK(sx_npy_parse(buf, 10 + hl + 16, "m.npy", &a, &err) == 0 && a.ndim == 2 && a.data[3] == 4.5f,
          "good npy parses: %s", err.msg);
    free(a.data);
    buf[6] = 7;
    CHECK(sx_npy_parse(buf, 10 + hl + 16, "m.npy", &a, &err) == -1 && strstr(err.msg, "version"), "version");
}

static void check_bad_cfg(const char *tmp) {
    char dir[4200], p[4300];
    snprintf(dir, sizeof dir, "%s/badcfg", tmp);
    sx_err err = {0};
    sx_mkdir_p(dir, &err);
    snprintf(p, sizeof p, "%s/cfg.json", dir);
    const char *cfg = "{\"d_in\": 4, \"d_sae\": 8, \"architecture\": \"transcoder\"}";
    sx_write_file_atomic(p, cfg, strlen(cfg), &err);
    sx_sae s;
    CHECK(sx_sae_load(dir, &s, &err) == -1 && strstr(err.msg, "gated") && strstr(err.msg, "cfg.json"),
          "unsupported arch: %s", err.msg);
    const char *mat[3][2] = {{"[1e300]", "exceeds"}, {"[2, 2.5]", "non-integer"}, {"[4, \"x\"]", "non-integer"}};
    for (int q = 0; q < 3; q++) { /* huge, fractional, non-numeric widths: refused, no UB */
        char buf[256];
        snprintf(buf, sizeof buf, "{\"d_in\": 4, \"d_sae\": 8, \"architecture\": \"matryoshka_batchtopk\", \"k\": 2, "
                 "\"matryoshka_widths\": %s}", mat[q][0]);
        sx_write_file_atomic(p, buf, strlen(buf), &err);
        CHECK(sx_sae_load(dir, &s, &err) == -1 && strstr(err.msg, mat[q][1]), "matryoshka_widths %s: %s", mat[q][0], err.msg);
    }
    cfg = "{\"d_in\": 4, \"d_sae\": 8, \"architecture\": \"topk\", \"activation_fn_kwargs\": {\"k\": 9}}";
    sx_write_file_atomic(p, cfg, strlen(cfg), &err);
    CHECK(sx_sae_load(dir, &s, &err) == -1 && strstr(err.msg, "k"), "k > d_sae: %s", err.msg);
    cfg = "{\"d_in\": 4, \"d_sae\": 8}";
    sx_write_file_atomic(p, cfg, strlen(cfg), &err);
    CHECK(sx_sae_load(dir, &s, &err) == -1 && strstr(err.msg, "sae_weights.safetensors"), "missing weights: %s", err.msg);
    CHECK(sx_sae_load("/nonexistent/sae", &s, &err) == -1 && strstr(err.msg, "/nonexistent/sae"), "missing path");
}

int main(void) {
    const char *tmp = test_tmpdir("train_sae_io");
    check_topk_select();
    check_npy();
    check_roundtrip(tmp);
    check_bad_cfg(tmp);
    const char *shared = sx_shared_dir();
    if (shared)
        for (int i = 0; i < 3; i++) check_fixture(shared, i, tmp);
    else
        printf("note: ../shared absent, fixture comparisons skipped\n");
    return TEST_DONE();
}
