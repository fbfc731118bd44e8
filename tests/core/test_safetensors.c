/* test_safetensors.c — writer/reader round trip and every malformed-file case we promise to
 * reject with a message naming the file. */
#include "test.h"
#include "sx_json.h"

static char dir[4096];

static void write_raw(const char *name, const char *header, const void *data, size_t dlen,
                      uint64_t hlen_override, char *path_out) {
    snprintf(path_out, 4200, "%s/%s", dir, name);
    FILE *f = fopen(path_out, "wb");
    uint64_t hl = hlen_override ? hlen_override : strlen(header);
    fwrite(&hl, 8, 1, f);
    fwrite(header, 1, strlen(header), f);
    if (dlen) fwrite(data, 1, dlen, f);
    fclose(f);
}

static void expect_reject(const char *name, const char *header, size_t dlen, uint64_t hl,
                          const char *needle) {
    char path[4200];
    static unsigned char zeros[4096];
    write_raw(name, header, zeros, dlen, hl, path);
    sx_safetensors st;
    sx_err err = {0};
    int rc = sx_st_open(&st, path, &err);
    CHECK(rc == -1, "%s: should be rejected", name);
    CHECK(strstr(err.msg, path) != NULL, "%s: message names the file: %s", name, err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", name, err.msg, needle);
}

static void test_roundtrip(void) {
    float a[6] = {1, 2, 3, 4, 5, -6.5f};
    uint16_t b[3] = {sx_f32_to_bf16(0.5f), sx_f32_to_bf16(-2.0f), sx_f32_to_bf16(3.25f)};
    int32_t ids[4] = {7, 8, 9, -1};
    sx_err err;
    sx_st_writer *w = sx_stw_new();
    CHECK(sx_stw_add(w, "a", SX_F32, 2, (int64_t[]){2, 3}, a, &err) == 0, "add a");
    CHECK(sx_stw_add(w, "b", SX_BF16, 1, (int64_t[]){3}, b, &err) == 0, "add b");
    CHECK(sx_stw_add(w, "ids", SX_I32, 1, (int64_t[]){4}, ids, &err) == 0, "add ids");
    CHECK(sx_stw_add(w, "a", SX_F32, 1, (int64_t[]){1}, a, &err) == -1, "duplicate name rejected");
    sx_stw_meta(w, "format", "pt", &err);
    char path[4200];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    CHECK(sx_stw_write(w, path, &err) == 0, "write: %s", err.msg);
    sx_stw_free(w);

    sx_safetensors st;
    CHECK(sx_st_open(&st, path, &err) == 0, "open: %s", err.msg);
    CHECK(st.n == 3, "3 tensors");
    float *fa = NULL, *fb = NULL;
    CHECK(sx_st_read_f32(&st, "a", 2, (int64_t[]){2, 3}, &fa, &err) == 0, "read a");
    CHECK(fa && memcmp(fa, a, sizeof a) == 0, "a values");
    CHECK(sx_st_read_f32(&st, "b", 1, (int64_t[]){-1}, &fb, &err) == 0, "read b");
    CHECK(fb && fb[0] == 0.5f && fb[1] == -2.0f && fb[2] == 3.25f, "bf16 values");
    CHECK(sx_st_read_f32(&st, "a", 2, (int64_t[]){3, 2}, &fa, &err) == -1 && strstr(err.msg, "[2,3]"),
          "shape mismatch names shapes: %s", err.msg);
    CHECK(sx_st_read_f32(&st, "ids", 1, (int64_t[]){4}, &fa, &err) == -1 && strstr(err.msg, "I32"),
          "int tensor is not float");
    CHECK(sx_st_read_f32(&st, "nope", 1, (int64_t[]){4}, &fa, &err) == -1 && strstr(err.msg, "missing"),
          "missing tensor");
    const sx_tensor_view *tv = sx_st_find(&st, "ids");
    CHECK(tv && tv->dtype == SX_I32 && memcmp(tv->data, ids, sizeof ids) == 0, "ids bytes");
    CHECK(st.metadata && cJSON_GetObjectItem(st.metadata, "format"), "metadata kept");
    free(fa);
    free(fb);
    sx_st_close(&st);
}

/* The writer pads the header to 64 bytes and puts the entries whose size is a multiple of 64
 * bytes first, so they start on cache lines (the products read F32 weights in place with
 * aligned loads); the others follow, with no holes, and every value reads back. */
static void test_alignment(void) {
    float odd[3] = {1, 2, 3}, w[16 * 4], w2[32];
    uint16_t tail[5] = {1, 2, 3, 4, 5};
    for (int i = 0; i < 64; i++) w[i] = (float)i * 0.25f;
    for (int i = 0; i < 32; i++) w2[i] = -(float)i;
    sx_err err;
    sx_st_writer *wr = sx_stw_new();
    CHECK(sx_stw_add(wr, "odd", SX_F32, 1, (int64_t[]){3}, odd, &err) == 0, "add odd");
    CHECK(sx_stw_add(wr, "w", SX_F32, 2, (int64_t[]){16, 4}, w, &err) == 0, "add w");
    CHECK(sx_stw_add(wr, "tail", SX_BF16, 1, (int64_t[]){5}, tail, &err) == 0, "add tail");
    CHECK(sx_stw_add(wr, "w2", SX_F32, 1, (int64_t[]){32}, w2, &err) == 0, "add w2");
    char path[4200];
    snprintf(path, sizeof path, "%s/al.safetensors", dir);
    CHECK(sx_stw_write(wr, path, &err) == 0, "write: %s", err.msg);
    sx_stw_free(wr);
    sx_safetensors st;
    CHECK(sx_st_open(&st, path, &err) == 0, "open: %s", err.msg);
    const sx_tensor_view *a = sx_st_find(&st, "w"), *b = sx_st_find(&st, "w2"), *o = sx_st_find(&st, "odd"),
                         *t = sx_st_find(&st, "tail");
    CHECK(a && b && o && t, "all four found");
    if (a && b && o && t) {
        CHECK(((uintptr_t)a->data & 63) == 0 && ((uintptr_t)b->data & 63) == 0, "64-byte multiples start on 64 bytes");
        CHECK((const char *)b->data == (const char *)a->data + sizeof w, "in the order added");
        CHECK((const char *)o->data == (const char *)b->data + sizeof w2 &&
                  (const char *)t->data == (const char *)o->data + sizeof odd,
              "the others after them, no holes");
        CHECK(memcmp(a->data, w, sizeof w) == 0 && memcmp(b->data, w2, sizeof w2) == 0 &&
                  memcmp(o->data, odd, sizeof odd) == 0 && memcmp(t->data, tail, sizeof tail) == 0,
              "values");
    }
    sx_st_close(&st);
}

static void test_malformed(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    FILE *f = fopen(path, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    sx_safetensors st;
    sx_err err;
    CHECK(sx_st_open(&st, path, &err) == -1 && strstr(err.msg, "truncated"), "3-byte file: %s", err.msg);

    const char *ok = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_reject("hlen.safetensors", ok, 8, 1ull << 40, "beyond the file size");
    expect_reject("trunc.safetensors", ok, 4, 0, "out of range");
    expect_reject("notjson.safetensors", "{\"x\":", 0, 0, "not a JSON object");
    expect_reject("dtype.safetensors", "{\"x\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
                  "unknown dtype");
    expect_reject("size.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12, 0,
                  "expected 12");
    expect_reject("overlap.safetensors",
                  "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                  12, 0, "overlap");
    /* an empty tensor between two overlapping ones (sorted by start: x, e, y) once hid the
     * overlap, since only neighbours were compared: aliased weights loaded silently */
    expect_reject("overlap_empty.safetensors",
                  "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]},"
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[7,15]}}",
                  16, 0, "overlap");
    /* a tensor inside another's span, after a longer neighbour: x [0,16] holds y [8,12] */
    expect_reject("overlap_inside.safetensors",
                  "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                  "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}",
                  16, 0, "overlap");
    /* duplicate keys, which cJSON keeps: the second __metadata__ leaked the first (found by
     * fuzz_safetensors); a second tensor of one name was silently shadowed */
    expect_reject("dupmeta.safetensors",
                  "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"a\":\"2\"},"
                  "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                  8, 0, "__metadata__ appears twice");
    expect_reject("dupname.safetensors",
                  "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                  16, 0, "appears twice");
    expect_reject("fracoffs.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8.5]}}",
                  9, 0, "data_offsets");
    {
        /* empty tensors sharing an offset with real ones are fine */
        char p2[4200];
        static unsigned char zeros[16];
        write_raw("empty_ok.safetensors",
                  "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                  "\"f\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
                  "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                  zeros, 16, 0, p2);
        CHECK(sx_st_open(&st, p2, &err) == 0 && st.n == 4, "empty tensors beside others: %s", err.msg);
        sx_st_close(&st);
    }
    expect_reject("negshape.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                  0, "bad shape");
    expect_reject("nooffs.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, 0, "data_offsets");
    CHECK(sx_st_open(&st, "/nonexistent/file.safetensors", &err) == -1 && strstr(err.msg, "cannot open"),
          "missing file");
}

static void test_fixture(void) {
    const char *shared = sx_shared_dir();
    if (!shared) {
        printf("note: ../shared absent, fixture read skipped\n");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/fixtures/gemma2-tiny/model.safetensors", shared);
    sx_safetensors st;
    sx_err err;
    CHECK(sx_st_open(&st, path, &err) == 0, "gemma2-tiny opens: %s", err.msg);
    const sx_tensor_view *tv = sx_st_find(&st, "model.embed_tokens.weight");
    CHECK(tv && tv->dtype == SX_BF16 && tv->shape[0] == 512 && tv->shape[1] == 64, "embed view");
    sx_st_close(&st);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", test_tmpdir("safetensors"));
    test_roundtrip();
    test_alignment();
    test_malformed();
    test_fixture();
    return TEST_DONE();
}
