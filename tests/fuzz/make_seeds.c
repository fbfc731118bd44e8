/* make_seeds.c — writes the seed corpus of every fuzz target into OUT/<target>/: small valid
 * files made by saetox's own writers (safetensors, SAELens folders, caches, checkpoints,
 * scorer weights) and by libarchive (npz, tar, zip, gz ...), plus a few near-misses.
 * Usage: make_seeds OUT */
#include <archive.h>
#include <archive_entry.h>

#include "datasets.h"
#include "sx_json.h"
#include "fuzz_util.h"
#include "sae.h"
#include "steering.h"
#include "train_internal.h"

static char out_root[4096];

static FILE *seed(const char *target, const char *name) {
    char p[4400];
    sx_err e;
    snprintf(p, sizeof p, "%s/%s", out_root, target);
    if (sx_mkdir_p(p, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    snprintf(p, sizeof p, "%s/%s/%s", out_root, target, name);
    FILE *f = fopen(p, "wb");
    if (!f) exit(1);
    return f;
}

static void seed_bytes(const char *target, const char *name, const void *d, size_t n) {
    FILE *f = seed(target, name);
    fwrite(d, 1, n, f);
    fclose(f);
}

static char *slurp(const char *path, size_t *n) {
    char *b;
    sx_err e;
    if (sx_read_file(path, 1 << 28, &b, n, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    return b;
}

static void seed_two(const char *target, const char *name, const char *pa, const char *pb) {
    size_t na, nb;
    char *a = slurp(pa, &na), *b = slurp(pb, &nb);
    FILE *f = seed(target, name);
    fz_join(f, a, na, b, nb);
    fclose(f);
    free(a), free(b);
}

static void seed_two_mem(const char *target, const char *name, const char *a, const void *b, size_t nb) {
    FILE *f = seed(target, name);
    fz_join(f, a, strlen(a), b, nb);
    fclose(f);
}

/* ---- archives ---- */
typedef struct { const char *name; const void *data; size_t len; } member;

/* format: "zip", "tar", "raw"; filter: NULL, "gzip", "zstd", "xz", "bzip2". 0 when libarchive
 * cannot write that combination (then there is no such seed). */
static int write_archive(const char *path, const char *format, const char *filter, const member *m, int n,
                         int deflate) {
    struct archive *a = archive_write_new();
    int ok = strcmp(format, "zip") == 0 ? archive_write_set_format_zip(a)
           : strcmp(format, "tar") == 0 ? archive_write_set_format_pax_restricted(a)
                                        : archive_write_set_format_raw(a);
    if (ok == ARCHIVE_OK && !strcmp(format, "zip") && !deflate)
        archive_write_set_options(a, "zip:compression=store");
    if (ok == ARCHIVE_OK && filter) ok = archive_write_add_filter_by_name(a, filter);
    if (ok != ARCHIVE_OK || archive_write_open_filename(a, path) != ARCHIVE_OK) {
        archive_write_free(a);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, m[i].data, m[i].len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return 1;
}

static size_t npy(unsigned char *out, const char *descr, const char *shape, const void *data, size_t nbytes) {
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    while ((10 + hl + 1) % 64) hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)hl, out[9] = (unsigned char)(hl >> 8);
    memcpy(out + 10, hdr, (size_t)hl);
    memcpy(out + 10 + hl, data, nbytes);
    return 10 + (size_t)hl + nbytes;
}

static void seeds_safetensors(const char *tmp) {
    float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    uint16_t h[4] = {0x3c00, 0xc000, 0x7c00, 0x0001};
    int64_t i8[3] = {1, -1, 1 << 30};
    int64_t s6[2] = {2, 3}, s4[1] = {4}, s3[1] = {3}, s0[2] = {0, 5};
    sx_err e;
    sx_st_writer *w = sx_stw_new();
    sx_stw_add(w, "a", SX_F32, 2, s6, f, &e);
    sx_stw_add(w, "empty", SX_F32, 2, s0, f, &e);
    sx_stw_add(w, "h", SX_F16, 1, s4, h, &e);
    sx_stw_add(w, "b", SX_BF16, 1, s4, h, &e);
    sx_stw_add(w, "i", SX_I64, 1, s3, i8, &e);
    sx_stw_meta(w, "format", "pt", &e);
    char p[4200];
    snprintf(p, sizeof p, "%s/s.safetensors", tmp);
    if (sx_stw_write(w, p, &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
    sx_stw_free(w);
    size_t n;
    char *b = slurp(p, &n);
    seed_bytes("fuzz_safetensors", "mixed", b, n);
    free(b);
    static const char hand[] = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char buf[256];
    uint64_t hl = sizeof hand - 1;
    memcpy(buf, &hl, 8), memcpy(buf + 8, hand, hl), memset(buf + 8 + hl, 0, 8);
    seed_bytes("fuzz_safetensors", "hand", buf, 16 + hl);
}

static void seeds_npz(const char *tmp) {
    float W[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b3[3] = {0.5f, -0.5f, 0}, b4[4] = {0};
    uint16_t h4[4] = {0x3c00, 0, 0x3c00, 0};
    static unsigned char m[5][512];
    size_t n0 = npy(m[0], "<f4", "(4, 3)", W, sizeof W), n1 = npy(m[1], "<f4", "(3, 4)", W, sizeof W);
    size_t n2 = npy(m[2], "<f4", "(3,)", b3, sizeof b3), n3 = npy(m[3], "<f4", "(4,)", b4, sizeof b4);
    size_t n4 = npy(m[4], "<f2", "(3,)", h4, 6);
    seed_bytes("fuzz_npz", "plain.npy", m[4], n4);
    member mem[5] = {{"W_enc.npy", m[0], n0}, {"W_dec.npy", m[1], n1}, {"b_enc.npy", m[2], n2},
                     {"b_dec.npy", m[3], n3}, {"threshold.npy", m[2], n2}};
    char p[4200];
    for (int deflate = 0; deflate < 2; deflate++) {
        snprintf(p, sizeof p, "%s/params%d.npz", tmp, deflate);
        write_archive(p, "zip", NULL, mem, 5, deflate);
        size_t n;
        char *b = slurp(p, &n);
        seed_bytes("fuzz_npz", deflate ? "params-deflate.npz" : "params-stored.npz", b, n);
        free(b);
    }
}

static void seeds_sae(const char *tmp) {
    const sx_sae_arch archs[3] = {SX_SAE_STANDARD, SX_SAE_TOPK, SX_SAE_JUMPRELU};
    const char *names[3] = {"standard", "topk", "jumprelu"};
    for (int a = 0; a < 3; a++) {
        sx_sae s = {0};
        s.arch = archs[a], s.d_in = 4, s.d_sae = 6, s.k = 2, s.apply_b_dec_to_input = 1, s.norm_scale = 1;
        float W1[24], W2[24], b6[6] = {0}, b4[4] = {0}, th[6] = {0.1f, 0.1f, 0.2f, 0, 0, 1};
        for (int i = 0; i < 24; i++) W1[i] = (float)((i * 7) % 5) - 2, W2[i] = (float)((i * 3) % 4) - 1.5f;
        s.W_enc = W1, s.W_dec = W2, s.b_enc = b6, s.b_dec = b4, s.threshold = a == 2 ? th : NULL;
        snprintf(s.hook_name, sizeof s.hook_name, "blocks.1.hook_resid_pre");
        char dir[4200], pc[4300], pw[4300];
        snprintf(dir, sizeof dir, "%s/sae-%s", tmp, names[a]);
        sx_err e;
        if (sx_sae_save(&s, dir, &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
        snprintf(pc, sizeof pc, "%s/cfg.json", dir);
        snprintf(pw, sizeof pw, "%s/sae_weights.safetensors", dir);
        seed_two("fuzz_sae", names[a], pc, pw);
    }
}

static void seeds_model(const char *tmp) {
    const int V = 16, d = 8, C = 8, f = 32;
    sx_st_writer *w = sx_stw_new();
    static float z[4096];
    for (int i = 0; i < 4096; i++) z[i] = (float)(i % 13) * 0.01f;
    sx_err e;
    struct { const char *n; int nd; int64_t s[2]; } t[] = {
        {"wte.weight", 2, {V, d}}, {"wpe.weight", 2, {C, d}}, {"ln_f.weight", 1, {d}}, {"ln_f.bias", 1, {d}},
        {"h.0.ln_1.weight", 1, {d}}, {"h.0.ln_1.bias", 1, {d}}, {"h.0.attn.c_attn.weight", 2, {d, 3 * d}},
        {"h.0.attn.c_attn.bias", 1, {3 * d}}, {"h.0.attn.c_proj.weight", 2, {d, d}}, {"h.0.attn.c_proj.bias", 1, {d}},
        {"h.0.ln_2.weight", 1, {d}}, {"h.0.ln_2.bias", 1, {d}}, {"h.0.mlp.c_fc.weight", 2, {d, f}},
        {"h.0.mlp.c_fc.bias", 1, {f}}, {"h.0.mlp.c_proj.weight", 2, {f, d}}, {"h.0.mlp.c_proj.bias", 1, {d}}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) sx_stw_add(w, t[i].n, SX_F32, t[i].nd, t[i].s, z, &e);
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", tmp);
    if (sx_stw_write(w, p, &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
    sx_stw_free(w);
    size_t n;
    char *b = slurp(p, &n);
    seed_two_mem("fuzz_model_config", "gpt2",
                 "{\"model_type\":\"gpt2\",\"vocab_size\":16,\"n_embd\":8,\"n_layer\":1,\"n_head\":2,"
                 "\"n_positions\":8,\"bos_token_id\":0,\"eos_token_id\":[1,2],\"pad_token_id\":null,"
                 "\"layer_norm_epsilon\":1e-5,\"activation_function\":\"gelu_new\"}", b, n);
    seed_two_mem("fuzz_model_config", "gemma2",
                 "{\"model_type\":\"gemma2\",\"vocab_size\":16,\"hidden_size\":8,\"intermediate_size\":16,"
                 "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"num_key_value_heads\":1,\"head_dim\":4,"
                 "\"max_position_embeddings\":8,\"sliding_window\":4,\"rms_norm_eps\":1e-6,"
                 "\"query_pre_attn_scalar\":4,\"final_logit_softcapping\":30.0,\"eos_token_id\":[1,107]}", b, n);
    free(b);
}

static void seeds_tokenizers(void) {
    char json[8192];
    size_t k = (size_t)snprintf(json, sizeof json,
        "{\"version\":\"1.0\",\"added_tokens\":["
        "{\"id\":0,\"content\":\"<s>\",\"special\":true,\"lstrip\":false,\"rstrip\":false},"
        "{\"id\":1,\"content\":\"<sep>\",\"special\":true,\"lstrip\":true,\"rstrip\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
        "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
        "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
        "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[0]}}},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\\u2581\"},"
        "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \","
        "\"start\":1,\"stop\":0}]},\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,"
        "\"fuse_unk\":true,\"vocab\":{\"<s>\":0,\"<sep>\":1,\"<unk>\":2,\"\\u2581\":3,\"a\":4,\"b\":5,"
        "\"\\u2581a\":6,\"ab\":7,\"\\u2581ab\":8");
    for (int b = 0; b < 256; b++) k += (size_t)snprintf(json + k, sizeof json - k, ",\"<0x%02X>\":%d", b, 9 + b);
    snprintf(json + k, sizeof json - k, "},\"merges\":[[\"\\u2581\",\"a\"],\"a b\",[\"\\u2581a\",\"b\"]]}}");
    static const char text[] = "ab ab <sep> c \xc3\xa9\xe2\x82\xac\xff!";
    seed_two_mem("fuzz_tokenizer_json", "sentencepiece", json, text, sizeof text - 1);
    seed_two_mem("fuzz_tokenizer_json", "bytelevel",
                 "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"\\u0120\":3,\"\\u0120ab\":4},"
                 "\"merges\":[\"a b\",\"\\u0120 ab\"]},\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"
                 "\"post_processor\":{\"type\":\"BertProcessing\",\"cls\":[\"a\",0],\"sep\":[\"b\",1]},"
                 "\"decoder\":{\"type\":\"ByteLevel\"}}", "ab ab", 5);
    /* GPT-2: the 256 byte symbols, three merges */
    cJSON *v = cJSON_CreateObject();
    for (int b = 0, n = 0; b < 256; b++) {
        int cp = b;
        if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) cp = 256 + n++;
        char c[4] = {0};
        if (cp < 0x80) c[0] = (char)cp;
        else c[0] = (char)(0xC0 | (cp >> 6)), c[1] = (char)(0x80 | (cp & 0x3F));
        cJSON_AddNumberToObject(v, c, b);
    }
    cJSON_AddNumberToObject(v, "\xc4\xa0t", 256);
    cJSON_AddNumberToObject(v, "he", 257);
    cJSON_AddNumberToObject(v, "\xc4\xa0the", 258);
    cJSON_AddNumberToObject(v, "<|endoftext|>", 259);
    char *vs = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    static const char merges[] = "#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\n";
    static const char t2[] = "the cat's the 123 \xe2\x82\xac <|endoftext|>";
    FILE *f = seed("fuzz_gpt2_vocab", "tiny");
    unsigned char hv[4] = {(unsigned char)strlen(vs), (unsigned char)(strlen(vs) >> 8), 0, 0};
    fwrite(hv, 1, 4, f);
    fwrite(vs, 1, strlen(vs), f);
    fz_join(f, merges, sizeof merges - 1, t2, sizeof t2 - 1);
    fclose(f);
    free(vs);
}

static void seeds_sources(const char *tmp) {
    static const char jsonl[] = "{\"text\":\"hello there\",\"score\":0.9}\n{\"text\":\"a\\u0000b \\ud800\",\"score\":null}\n"
                                "\n{\"text\":5}\nnot json\n{\"text\":\"last\",\"score\":\"0.1\"}";
    static const char csv[] = "text,score\n\"quoted, \"\"text\"\"\n2nd line\",0.7\nplain,0.2\nshort\n";
    static const char txt[] = "line one\n\nline two\r\n";
    /* kind in bits 0-1 (0 text, 1 textfile, 2 jsonl, 3 csv), container in bits 2-4 */
    struct { int kind; const char *data; size_t n; } k[3] = {
        {2, jsonl, sizeof jsonl - 1}, {3, csv, sizeof csv - 1}, {0, txt, sizeof txt - 1}};
    const char *filters[5] = {NULL, "gzip", "zstd", "xz", "bzip2"};
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 8; c++) {
            char p[4200], name[64];
            snprintf(p, sizeof p, "%s/src-%d-%d", tmp, i, c);
            member m[2] = {{k[i].kind == 3 ? "d/a.csv" : "d/a.jsonl", k[i].data, k[i].n},
                           {k[i].kind == 3 ? "b.csv" : "b.jsonl", k[i].data, k[i].n / 2}};
            int ok = c == 0 ? (sx_write_file_atomic(p, k[i].data, k[i].n, NULL) == 0)
                   : c <= 4 ? write_archive(p, "raw", filters[c], m, 1, 0)
                   : c == 5 ? write_archive(p, "tar", NULL, m, 2, 0)
                   : c == 6 ? write_archive(p, "tar", "gzip", m, 2, 0)
                            : write_archive(p, "zip", NULL, m, 2, 1);
            if (!ok) continue;
            size_t n;
            char *b = slurp(p, &n);
            unsigned char *s = malloc(n + 1);
            s[0] = (unsigned char)(k[i].kind | c << 2 | (i == 0 ? 1 << 6 : 0));
            memcpy(s + 1, b, n);
            snprintf(name, sizeof name, "kind%d-container%d", k[i].kind, c);
            seed_bytes("fuzz_sources", name, s, n + 1);
            free(s), free(b);
        }
    unsigned char tf[64] = {1};
    memcpy(tf + 1, "a whole file\nof text", 20);
    seed_bytes("fuzz_sources", "textfile", tf, 21);
}

static void seeds_cache(const char *tmp) {
    for (int f16 = 0; f16 < 2; f16++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/c%d.h5", tmp, f16);
        sx_cache_meta m = {.d_in = 8, .f16 = f16, .compress = f16, .chunk_rows = 32, .hook_name = "blocks.0.hook_resid_pre",
                           .model = "fz", .source = "text:x", .context_size = 16, .n_tokens_target = 100};
        sx_cache_writer *w;
        sx_err e;
        if (sx_cache_writer_open(out, &m, 0, &w, NULL, &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
        float x[100 * 8];
        int32_t t[100], p[100];
        int64_t dd[100];
        for (int i = 0; i < 100; i++) {
            for (int j = 0; j < 8; j++) x[i * 8 + j] = (float)(i - j) * 0.25f;
            t[i] = i, p[i] = i % 16, dd[i] = i / 16;
        }
        if (sx_cache_writer_append(w, x, t, dd, p, 100, &e) || sx_cache_writer_finish(w, &e))
            fprintf(stderr, "%s\n", e.msg), exit(1);
        size_t n;
        char *b = slurp(out, &n);
        seed_bytes("fuzz_cache_reader", f16 ? "f16-gzip.h5" : "f32.h5", b, n);
        free(b);
    }
}

static void seeds_scorer(void) {
    sx_scorer_cfg cfg = {16, 2, 3, 4};
    sx_err e;
    sx_scorer *s = sx_scorer_new(&cfg, &e);
    if (!s) fprintf(stderr, "%s\n", e.msg), exit(1);
    s->bias = -0.5f;
    for (int i = 0; i < (1 << 16); i += 97) s->w[i] = (float)(i % 11) - 5;
    for (int f16 = 0; f16 < 2; f16++) {
        unsigned char *b = NULL;
        size_t n = 0;
        if (sx_scorer_serialise(s, f16, &b, &n, &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
        seed_bytes("fuzz_scorer", f16 ? "f16.bin" : "f32.bin", b, n);
        free(b);
    }
    sx_scorer_free(s);
}

static void seeds_checkpoint(const char *tmp) {
    sx_tsae t;
    sx_err e;
    if (sx_tsae_init(&t, SX_SAE_TOPK, 8, 16, 2, 0, "topk-16", &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
    for (int64_t i = 0; i < t.np; i++) t.p[i] = (float)(i % 9) * 0.1f;
    sx_ckpt_state st = {.step = 2, .rows_consumed = 256, .norm_scale = 1.5f, .rng = {1, 2, 3, 4}};
    snprintf(st.fingerprint, sizeof st.fingerprint, "fuzz");
    char dir[4200], ps[4300], pw[4300];
    snprintf(dir, sizeof dir, "%s/run", tmp);
    if (sx_mkdir_p(dir, &e) || sx_ckpt_save(dir, &st, &t, 1, &e)) fprintf(stderr, "%s\n", e.msg), exit(1);
    snprintf(ps, sizeof ps, "%s/checkpoint/state.json", dir);
    snprintf(pw, sizeof pw, "%s/checkpoint/sae_0.safetensors", dir);
    seed_two("fuzz_checkpoint", "topk16", ps, pw);
    sx_tsae_free(&t);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUT\n");
        return 2;
    }
    snprintf(out_root, sizeof out_root, "%s", argv[1]);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.work", out_root);
    sx_err e;
    if (sx_mkdir_p(tmp, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    seeds_safetensors(tmp);
    seeds_npz(tmp);
    seeds_sae(tmp);
    seeds_model(tmp);
    seeds_tokenizers();
    seeds_sources(tmp);
    seeds_cache(tmp);
    seeds_scorer();
    seeds_checkpoint(tmp);
    return 0;
}
