/* test_core.c — dtype conversions, RNG determinism, JSON getters, atomic files. */
#include "test.h"
#include "sx_json.h"

static void test_bf16(void) {
    /* Exhaustive: every bf16 value survives f32 -> bf16 unchanged (NaNs stay NaN). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sx_bf16_to_f32((uint16_t)h);
        uint16_t back = sx_f32_to_bf16(f);
        if (f == f && back != h) bad++;
        if (f != f && sx_bf16_to_f32(back) == sx_bf16_to_f32(back)) bad++;
    }
    CHECK(bad == 0, "bf16 round trip: %d values differ", bad);
    /* round to nearest even: 1 + 2^-8 is exactly halfway between 1 and 1+2^-7 */
    CHECK(sx_bf16_to_f32(sx_f32_to_bf16(1.0f + 0x1p-8f)) == 1.0f, "bf16 ties to even");
    CHECK(sx_bf16_to_f32(sx_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f)) == 1.0f + 0x1p-7f, "bf16 rounds up");
}

static void test_f16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sx_f16_to_f32((uint16_t)h);
        if (f != f) continue;
        if (sx_f32_to_f16(f) != h) bad++;
    }
    CHECK(bad == 0, "f16 round trip: %d values differ", bad);
    CHECK(sx_f16_to_f32(sx_f32_to_f16(65504.0f)) == 65504.0f, "f16 max");
    CHECK(isinf(sx_f16_to_f32(sx_f32_to_f16(70000.0f))), "f16 overflow to inf");
    CHECK(sx_f16_to_f32(sx_f32_to_f16(0x1p-24f)) == 0x1p-24f, "f16 smallest subnormal");
    CHECK(sx_f16_to_f32(sx_f32_to_f16(0x1p-26f)) == 0.0f, "f16 underflow");
    CHECK(sx_f16_to_f32(sx_f32_to_f16(1.0f + 0x1p-11f)) == 1.0f, "f16 ties to even");
}

static void test_rng(void) {
    sx_rng a, b;
    sx_rng_seed(&a, 42);
    sx_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= sx_rng_u64(&a) == sx_rng_u64(&b);
    CHECK(same, "same seed, same stream");
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = sx_rng_normal(&a);
        s += x;
        s2 += x * x;
    }
    CHECK_NEAR(s / n, 0.0, 0.01, "normal mean");
    CHECK_NEAR(s2 / n, 1.0, 0.02, "normal variance");
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) hist[sx_rng_below(&a, 7)]++;
    for (int i = 0; i < 7; i++) CHECK(abs(hist[i] - 10000) < 500, "below(7) bucket %d: %d", i, hist[i]);
}

static void test_json(void) {
    cJSON *j = cJSON_Parse("{\"a\":3,\"b\":2.5,\"c\":\"x\",\"d\":null,\"e\":true}");
    sx_err err;
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    int bo = 0;
    CHECK(sx_json_int(j, "a", &i, "t", &err) == 0 && i == 3, "int");
    CHECK(sx_json_int(j, "b", &i, "t", &err) == -1 && strstr(err.msg, "'b'"), "non-integer rejected");
    CHECK(sx_json_num(j, "b", &d, "t", &err) == 0 && d == 2.5, "num");
    CHECK(sx_json_str(j, "c", &s, "t", &err) == 0 && strcmp(s, "x") == 0, "str");
    CHECK(sx_json_str(j, "d", &s, "t", &err) == 1, "null is absent");
    CHECK(sx_json_int(j, "zz", &i, "t", &err) == 1, "missing is absent");
    CHECK(sx_json_bool(j, "e", &bo, "t", &err) == 0 && bo == 1, "bool");
    cJSON_Delete(j);
}

static void test_atomic(void) {
    const char *dir = test_tmpdir("core");
    char path[4200];
    snprintf(path, sizeof path, "%s/atomic.txt", dir);
    sx_err err;
    CHECK(sx_write_file_atomic(path, "hello", 5, &err) == 0, "atomic write");
    sx_atomic_file af;
    CHECK(sx_atomic_open(&af, path, &err) == 0, "atomic open");
    fputs("partial", af.f);
    sx_atomic_abort(&af);
    char *data;
    size_t len;
    CHECK(sx_read_file(path, 100, &data, &len, &err) == 0 && len == 5 && memcmp(data, "hello", 5) == 0,
          "aborted write leaves the old file");
    free(data);
    CHECK(!sx_file_exists(af.tmp_path), "temp file removed");
    CHECK(sx_read_file(path, 2, &data, &len, &err) == -1 && strstr(err.msg, "limit"), "size limit");
    CHECK(sx_atomic_open(&af, "/nonexistent-dir/x", &err) == -1 && strstr(err.msg, "/nonexistent-dir"),
          "error names the path");
}

int main(void) {
    test_bf16();
    test_f16();
    test_rng();
    test_json();
    test_atomic();
    return TEST_DONE();
}
