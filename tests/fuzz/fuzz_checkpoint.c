/* fuzz_checkpoint.c — a training checkpoint (OUT/checkpoint/state.json + sae_0.safetensors; the
 * input holds both, see fz_split) loaded into a TopK SAE of d 8, width 16, the way
 * `train --resume` loads it; then the metrics log cut back to its step. */
#include "fuzz_util.h"
#include "train_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    static sx_tsae t;
    static int ready;
    sx_err e = {0};
    if (!ready) {
        if (sx_tsae_init(&t, SX_SAE_TOPK, 8, 16, 2, 0, "topk-16", &e)) abort();
        ready = 1;
    }
    fz_parts p = fz_split(d, n);
    char out[512], ck[600];
    snprintf(out, sizeof out, "%s/run", fz_dir());
    snprintf(ck, sizeof ck, "%s/checkpoint", out);
    if (sx_mkdir_p(ck, &e)) abort();
    fz_file("run/checkpoint/state.json", p.a, p.na);
    fz_file("run/checkpoint/sae_0.safetensors", p.b, p.nb);
    sx_ckpt_state st;
    memset(&st, 0, sizeof st);
    snprintf(st.fingerprint, sizeof st.fingerprint, "fuzz");
    int rc = sx_ckpt_load(out, &st, &t, 1, &e);
    fz_check_err(rc < 0, &e);
    if (rc == 1) {
        /* the metrics log of the seed run, cut at the loaded step */
        static const char log[] = "{\"step\":1,\"sae\":\"a\"}\n{\"step\":2,\"sae\":\"a\"}\n{\"step\":3,\"sae\":\"a\"}\n{\"st";
        char mp[600];
        snprintf(mp, sizeof mp, "%s", fz_file("run/metrics.jsonl", log, sizeof log - 1));
        rc = sx_metrics_truncate(mp, st.step, &e);
        fz_check_err(rc, &e);
    }
    return 0;
}
