/* cmd_sae_encode.c — `saetox sae-encode`: run an SAE on the rows of a safetensors tensor `x`
 * and write hidden_pre, feature_acts and reconstruction. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sae.h"

static int fail(const sx_err *err) {
    cli_error("sae-encode", err->msg);
    return 1;
}

int cmd_sae_encode(int argc, char **argv) {
    const char *sae_path = NULL, *in = NULL, *out = NULL, *name = "x";
    int64_t threads = 0;
    cli_opt opts[] = {
        {"sae", CLI_STR, &sae_path, "PATH", "SAELens folder, its sae_weights.safetensors, or a Gemma Scope params.npz", 1, 0},
        {"in", CLI_STR, &in, "X.safetensors", "input holding `x` [n, d_in]", 1, 0},
        {"out", CLI_STR, &out, "Y.safetensors", "output: feature_acts [n,d_sae], reconstruction [n,d_in], hidden_pre [n,d_sae]", 1, 0},
        {"tensor", CLI_STR, &name, "NAME", "name of the input tensor (default x)", 0, 0},
        {"threads", CLI_INT, &threads, "N", "threads (default: all)", 0, 0},
    };
    int rc = cli_parse("sae-encode", "Encode activations with a sparse autoencoder.", opts,
                       (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    sx_set_threads((int)threads);
    sx_err err = {0};
    sx_sae sae;
    if (sx_sae_load(sae_path, &sae, &err)) return fail(&err);
    sx_safetensors st;
    if (sx_st_open(&st, in, &err)) {
        sx_sae_free(&sae);
        return fail(&err);
    }
    int64_t shape[2] = {-1, sae.d_in};
    float *x = NULL;
    if (sx_st_read_f32(&st, name, 2, shape, &x, &err)) {
        sx_st_close(&st);
        sx_sae_free(&sae);
        return fail(&err);
    }
    int64_t n = sx_st_find(&st, name)->shape[0];
    sx_st_close(&st);
    size_t na = (size_t)n * (size_t)sae.d_sae, nr = (size_t)n * (size_t)sae.d_in;
    float *acts = malloc((na ? na : 1) * sizeof(float)), *pre = malloc((na ? na : 1) * sizeof(float)),
          *rec = malloc((nr ? nr : 1) * sizeof(float));
    rc = 0;
    if (!acts || !pre || !rec) rc = sx_failc(&err, SX_ENOMEM, "%s: out of memory for %lld rows", in, (long long)n);
    if (!rc) rc = sx_sae_encode(&sae, x, n, acts, pre, &err);
    for (size_t i = 0; !rc && i < nr; i++)
        if (!(x[i] - x[i] == 0))
            rc = sx_failc(&err, SX_ENUMERIC, "%s: tensor '%s' has a non-finite value at row %zu", in, name,
                         i / (size_t)sae.d_in);
    if (!rc) {
        sx_sae_decode(&sae, acts, n, rec);
        sx_st_writer *w = sx_stw_new();
        int64_t sa[2] = {n, sae.d_sae}, sr[2] = {n, sae.d_in};
        rc = !w || sx_stw_meta(w, "sae", sae_path, &err) ||
             sx_stw_add(w, "feature_acts", SX_F32, 2, sa, acts, &err) ||
             sx_stw_add(w, "reconstruction", SX_F32, 2, sr, rec, &err) ||
             sx_stw_add(w, "hidden_pre", SX_F32, 2, sa, pre, &err) || sx_stw_write(w, out, &err);
        if (!w) sx_failc(&err, SX_ENOMEM, "out of memory");
        sx_stw_free(w);
    }
    free(x), free(acts), free(pre), free(rec);
    sx_sae_free(&sae);
    return rc ? fail(&err) : 0;
}
