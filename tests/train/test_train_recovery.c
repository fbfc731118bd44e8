/* test_train_recovery.c — planted-dictionary recovery: x = sum of 3 of 64 unit atoms in
 * d_in 32 (+ small noise).  TopK (k 4) and ReLU-L1 SAEs of width 128 with default settings
 * must recover >= 90% of the atoms at decoder cosine >= 0.9. */
#include "planted.h"
#include "test.h"

static void run_arch(sx_sae_arch arch, const char *tmp, int64_t tokens) {
    planted p;
    planted_init(&p, 32, 64, 3, 0.01, 99);
    sx_batch_source src = planted_source(&p);
    sx_train_opts o;
    sx_train_opts_default(&o);
    o.arch = arch;
    o.n_widths = 1, o.widths[0] = 128;
    if (arch == SX_SAE_TOPK || arch == SX_SAE_BATCHTOPK) o.n_k = 1, o.ks[0] = 4;
    o.batch = getenv("TB") ? atoi(getenv("TB")) : 256, o.tokens = tokens, o.seed = 5, o.log_every = 20;
    char out[4200];
    snprintf(out, sizeof out, "%s/%d", tmp, (int)arch);
    o.out_dir = out;
    sx_err err = {0};
    double t0 = sx_now();
    int rc = sx_train_run(&o, &src, &err);
    CHECK(rc == 0, "train arch %d: %s", (int)arch, err.msg);
    char name[64], dir[4300];
    sx_train_sae_name(&o, 0, name, sizeof name);
    snprintf(dir, sizeof dir, "%s/%s", out, name);
    sx_sae sae;
    if (rc == 0 && sx_sae_load(dir, &sae, &err) == 0) {
        double mean;
        double rec = planted_recovered(&p, &sae, 0.9, &mean);
        printf("%s: %lld samples, %.1f s: recovered %.1f%% of 64 atoms at cos >= 0.9 (mean best cos %.3f)\n",
               name, (long long)tokens, sx_now() - t0, 100 * rec, mean);
        CHECK(rec >= 0.9, "%s recovered only %.1f%%", name, 100 * rec);
        sx_sae_free(&sae);
    } else {
        CHECK(0, "load %s: %s", dir, err.msg);
    }
    free(p.atoms);
}

int main(void) {
    sx_set_threads(1);
    const char *tmp = test_tmpdir("train_recovery");
    run_arch(SX_SAE_TOPK, tmp, 200000);
    run_arch(SX_SAE_STANDARD, tmp, 200000);
    run_arch(SX_SAE_BATCHTOPK, tmp, 200000);
    return TEST_DONE();
}
