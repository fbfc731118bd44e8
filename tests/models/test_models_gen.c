/* test_models_gen.c — sampling and generation options (seeds, batch independence, top-k,
 * top-p, temperature distribution, logits_fn, stop ids, left truncation), and loading
 * variants of gpt2-tiny: sharded + index, "transformer." prefix, lm_head.weight, F16/BF16. */
#include "models_test_util.h"
#include "sx_json.h"

static int ban_fn_token = -1;
static void ban_fn(void *user, int seq, float *logits, int vocab) {
    (void)user, (void)seq;
    if (ban_fn_token >= 0 && ban_fn_token < vocab) logits[ban_fn_token] = -INFINITY;
}

static int gen1(sx_model *m, const int32_t *p, int n, const sx_gen_opts *o, int32_t *out) {
    sx_err err;
    int32_t *g;
    int ng;
    if (sx_generate(m, &p, &n, 1, o, &g, &ng, &err)) {
        fprintf(stderr, "generate: %s\n", err.msg);
        return -1;
    }
    memcpy(out, g, (size_t)ng * sizeof *g);
    free(g);
    return ng;
}

static void test_sampling(const char *dir) {
    sx_model *m = load_or_die(dir);
    int V = sx_model_cfg(m)->vocab_size;
    sx_err err;
    int32_t A[5] = {2, 82, 0, 280, 140}, B[3] = {2, 7, 9}, C[6] = {2, 300, 301, 302, 303, 304};
    int32_t g[16], s1[16], s2[16];
    sx_gen_opts greedy = {.max_new_tokens = 8, .temperature = 0, .top_p = 1};
    sx_gen_opts samp = {.max_new_tokens = 8, .temperature = 1.0f, .top_p = 1, .seed = 42};
    CHECK(gen1(m, A, 5, &greedy, g) == 8, "greedy");
    CHECK(gen1(m, A, 5, &samp, s1) == 8 && gen1(m, A, 5, &samp, s2) == 8 && !memcmp(s1, s2, sizeof(int32_t) * 8),
          "same seed, different samples");
    /* batch independence: sequence i uses stream i whatever else is in the batch */
    const int32_t *p1[2] = {A, B}, *p2[2] = {A, C}, *p3[2] = {C, B};
    int l1[2] = {5, 3}, l2[2] = {5, 6}, l3[2] = {6, 3};
    int32_t *o1[2], *o2[2], *o3[2];
    int n1[2], n2[2], n3[2];
    CHECK(sx_generate(m, p1, l1, 2, &samp, o1, n1, &err) == 0 && sx_generate(m, p2, l2, 2, &samp, o2, n2, &err) == 0 &&
              sx_generate(m, p3, l3, 2, &samp, o3, n3, &err) == 0,
          "batch generate: %s", err.msg);
    CHECK(!memcmp(o1[0], o2[0], 8 * sizeof(int32_t)) && !memcmp(o1[0], s1, 8 * sizeof(int32_t)),
          "sequence 0 depends on the batch");
    CHECK(!memcmp(o1[1], o3[1], 8 * sizeof(int32_t)), "sequence 1 depends on the batch");
    for (int i = 0; i < 2; i++) free(o1[i]), free(o2[i]), free(o3[i]);
    /* top_k = 1 and a tiny top_p are greedy */
    sx_gen_opts k1 = samp, p0 = samp;
    k1.top_k = 1;
    p0.top_p = 1e-6f;
    CHECK(gen1(m, A, 5, &k1, s1) == 8 && !memcmp(s1, g, 8 * sizeof(int32_t)), "top_k=1 is not greedy");
    CHECK(gen1(m, A, 5, &p0, s1) == 8 && !memcmp(s1, g, 8 * sizeof(int32_t)), "top_p~0 is not greedy");
    /* logits_fn bans the greedy first token */
    ban_fn_token = g[0];
    sx_gen_opts bo = greedy;
    bo.logits_fn = ban_fn;
    CHECK(gen1(m, A, 5, &bo, s1) == 8, "ban");
    int seen = 0;
    for (int i = 0; i < 8; i++) seen += s1[i] == ban_fn_token;
    CHECK(seen == 0, "banned token generated");
    /* stop ids: ends right after the stop token */
    sx_gen_opts so = greedy;
    int32_t stop = g[2];
    so.stop_ids = &stop;
    so.n_stop = 1;
    int ns = gen1(m, A, 5, &so, s1);
    int first = 0;
    while (g[first] != stop) first++;
    CHECK(ns == first + 1 && s1[ns - 1] == stop, "stop id: got %d tokens", ns);
    /* max_new_tokens = 0 */
    sx_gen_opts z = greedy;
    z.max_new_tokens = 0;
    CHECK(gen1(m, A, 5, &z, s1) == 0, "max_new 0");
    /* distribution: first sampled token frequencies vs softmax(logits), 3000 streams */
    enum { N = 3000 };
    const int32_t **pp = malloc(N * sizeof *pp);
    int *pl = malloc(N * sizeof *pl), *ol = malloc(N * sizeof *ol);
    int32_t **oo = malloc(N * sizeof *oo);
    for (int i = 0; i < N; i++) pp[i] = A, pl[i] = 5;
    float *lg = malloc((size_t)V * sizeof *lg);
    int T = 5;
    sx_forward_opts fo = {NULL, 0, -1, 2};
    CHECK(sx_forward(m, A, &T, 1, &fo, lg, &err) == 0, "forward");
    double mx = lg[0], zs = 0;
    for (int v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
    for (int v = 0; v < V; v++) zs += exp(lg[v] - mx);
    int top = 0, second = -1;
    for (int v = 1; v < V; v++)
        if (lg[v] > lg[top]) top = v;
    for (int v = 0; v < V; v++)
        if (v != top && (second < 0 || lg[v] > lg[second])) second = v;
    double ptop = exp(lg[top] - mx) / zs, psec = exp(lg[second] - mx) / zs;
    for (int mode = 0; mode < 3; mode++) {
        sx_gen_opts d1 = {.max_new_tokens = 1, .temperature = 1, .top_p = 1, .seed = 7};
        if (mode == 1) d1.top_k = 2;
        if (mode == 2) d1.top_p = (float)(ptop + 0.5 * psec); /* nucleus = {top, second} */
        CHECK(sx_generate(m, pp, pl, N, &d1, oo, ol, &err) == 0, "dist: %s", err.msg);
        int ct = 0, cs = 0, other = 0;
        for (int i = 0; i < N; i++) {
            ct += oo[i][0] == top;
            cs += oo[i][0] == second;
            other += oo[i][0] != top && oo[i][0] != second;
            free(oo[i]);
        }
        double want = mode == 0 ? ptop : ptop / (ptop + psec);
        double sd = sqrt(want * (1 - want) / N);
        CHECK(fabs((double)ct / N - want) < 5 * sd + 1e-3, "mode %d: top freq %g vs p %g", mode, (double)ct / N, want);
        if (mode) CHECK(other == 0, "mode %d: %d samples outside the kept set", mode, other);
        else CHECK(other > 0 || ptop + psec > 0.999, "mode 0: nothing outside top-2");
    }
    free(pp), free(pl), free(ol), free(oo), free(lg);
    sx_model_free(m);
}

static void test_truncation(const char *dir) {
    sx_model *m = load_or_die(dir);
    int n_ctx = sx_model_cfg(m)->n_ctx;
    int32_t *p = malloc((size_t)(n_ctx + 10) * sizeof *p), a[16], b[16];
    for (int i = 0; i < n_ctx + 10; i++) p[i] = (i * 7919) % 50000;
    sx_gen_opts o = {.max_new_tokens = 6, .temperature = 0, .top_p = 1};
    int na = gen1(m, p, n_ctx + 10, &o, a);
    int nb = gen1(m, p + 16, n_ctx - 6, &o, b);
    CHECK(na == 6 && nb == 6 && !memcmp(a, b, 6 * sizeof *a), "left truncation");
    free(p);
    sx_model_free(m);
}

/* Rewrite gpt2-tiny: (0) two shards + index, F32; (1) one file, BF16, "transformer." prefix
 * and an explicit lm_head.weight; (2) F16. Compare logits with the original. */
static void test_variants(const char *shared) {
    char src[4200], path[4400];
    snprintf(src, sizeof src, "%s/fixtures/gpt2-tiny", shared);
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    sx_safetensors st;
    sx_err err;
    if (sx_st_open(&st, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    sx_model *ref = load_or_die(src);
    int32_t ids[7] = {0, 48218, 39507, 50256, 48941, 1054, 15380};
    int T = 7, V = 50257;
    float *l0 = malloc((size_t)T * V * sizeof *l0), *l1 = malloc((size_t)T * V * sizeof *l1);
    sx_forward_opts fo = {NULL, 0, -1, 1};
    CHECK(sx_forward(ref, ids, &T, 1, &fo, l0, &err) == 0, "ref forward");
    for (int variant = 0; variant < 3; variant++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/variant%d", test_tmpdir("models_variants"), variant);
        sx_mkdir_p(dir, &err);
        char cfg_src[4400], cfg_dst[4400];
        snprintf(cfg_src, sizeof cfg_src, "%s/config.json", src);
        snprintf(cfg_dst, sizeof cfg_dst, "%s/config.json", dir);
        char *cj;
        size_t cl;
        sx_read_file(cfg_src, 1 << 20, &cj, &cl, &err);
        sx_write_file_atomic(cfg_dst, cj, cl, &err);
        free(cj);
        sx_st_writer *w[2] = {sx_stw_new(), sx_stw_new()};
        void **conv = calloc((size_t)st.n + 1, sizeof *conv);
        cJSON *wm = cJSON_CreateObject();
        for (int i = 0; i < st.n; i++) {
            const sx_tensor_view *t = &st.t[i];
            char name[256];
            snprintf(name, sizeof name, "%s%s", variant == 1 && strncmp(t->name, "h.", 2) == 0 ? "transformer." : "",
                     t->name);
            const void *data = t->data;
            sx_dtype dt = SX_F32;
            if (variant > 0) {
                uint16_t *h = malloc(t->numel * 2);
                const float *f = t->data;
                for (size_t k = 0; k < t->numel; k++) h[k] = variant == 1 ? sx_f32_to_bf16(f[k]) : sx_f32_to_f16(f[k]);
                conv[i] = h;
                data = h;
                dt = variant == 1 ? SX_BF16 : SX_F16;
            }
            int which = variant == 0 ? i % 2 : 0;
            sx_stw_add(w[which], name, dt, t->ndim, t->shape, data, &err);
            cJSON_AddStringToObject(wm, name, which ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors");
            if (variant == 1 && !strcmp(t->name, "wte.weight"))
                sx_stw_add(w[0], "lm_head.weight", dt, t->ndim, t->shape, data, &err);
        }
        if (variant == 0) {
            char p1[4400], p2[4400], pi[4400];
            snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
            snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
            snprintf(pi, sizeof pi, "%s/model.safetensors.index.json", dir);
            CHECK(sx_stw_write(w[0], p1, &err) == 0 && sx_stw_write(w[1], p2, &err) == 0, "write shards");
            cJSON *idx = cJSON_CreateObject();
            cJSON_AddItemToObject(idx, "metadata", cJSON_CreateObject());
            cJSON_AddItemToObject(idx, "weight_map", wm);
            sx_json_write_file(pi, idx, &err);
            cJSON_Delete(idx);
        } else {
            char p1[4400];
            snprintf(p1, sizeof p1, "%s/model.safetensors", dir);
            CHECK(sx_stw_write(w[0], p1, &err) == 0, "write variant");
            cJSON_Delete(wm);
        }
        sx_stw_free(w[0]);
        sx_stw_free(w[1]);
        for (int i = 0; i < st.n; i++) free(conv[i]);
        free(conv);
        sx_model *m = NULL;
        CHECK(sx_model_load(dir, &m, &err) == 0, "variant %d load: %s", variant, err.msg);
        if (!m) continue;
        CHECK(sx_forward(m, ids, &T, 1, &fo, l1, &err) == 0, "variant forward");
        double e = test_max_abs_diff(l0, l1, (size_t)T * V);
        double tol = variant == 0 ? 0 : variant == 1 ? 0.1 : 0.01;
        CHECK(e <= tol, "variant %d: logits differ by %g (tol %g)", variant, e, tol);
        printf("variant %d (%s): max |logit diff| %.3g\n", variant,
               variant == 0 ? "2 shards F32" : variant == 1 ? "BF16, transformer. prefix, lm_head" : "F16", e);
        sx_model_free(m);
    }
    free(l0), free(l1);
    sx_model_free(ref);
    sx_st_close(&st);
}

int main(void) {
    const char *shared = test_shared_or_skip("the model fixtures");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/fixtures/gemma2-tiny", shared);
    test_sampling(dir);
    snprintf(dir, sizeof dir, "%s/fixtures/gpt2-tiny", shared);
    test_truncation(dir);
    test_variants(shared);
    return TEST_DONE();
}
