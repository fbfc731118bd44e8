/* test_errcodes.c — sx_err carries a result code a caller can branch on: the code of each
 * kind of failure, on real calls of the library (files, safetensors, model folders, hooks,
 * generation options), and the rules of sx_failc / sx_fail / sx_fail_prefix. */
#include "test.h"
#include "models.h"
#include "sae.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[4096];

static void write_file(const char *name, const void *data, size_t n, char *path) {
    snprintf(path, 4200, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* a safetensors file with the given JSON header and len zero bytes of data */
static void write_st(const char *name, const char *header, size_t len, char *path) {
    static unsigned char buf[8 + 4096 + 4096];
    uint64_t hl = strlen(header);
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, header, hl);
    memset(buf + 8 + hl, 0, len);
    write_file(name, buf, 8 + hl + len, path);
}

#define EXPECT(call, want, what)                                                              \
    do {                                                                                      \
        sx_err e_ = {0};                                                                      \
        int rc_ = (call);                                                                     \
        CHECK(rc_ == -1 && e_.code == (want), "%s: want %s, got rc %d %s (%s)", what,         \
              sx_code_name(want), rc_, sx_code_name(e_.code), e_.msg);                        \
    } while (0)
#define E (&e_)

int main(void) {
    snprintf(dir, sizeof dir, "%s", test_tmpdir("errcodes"));
    char p[4200];

    /* the rules */
    sx_err err = {0};
    CHECK(err.code == SX_OK && strcmp(sx_code_name(SX_OK), "SX_OK") == 0, "a fresh sx_err is SX_OK");
    CHECK(sx_failc(&err, SX_ECORRUPT, "x %d", 3) == -1 && err.code == SX_ECORRUPT && strcmp(err.msg, "x 3") == 0,
          "sx_failc sets code and message");
    sx_fail_prefix(&err, "%s", "f.bin");
    CHECK(err.code == SX_ECORRUPT && strcmp(err.msg, "f.bin: x 3") == 0, "sx_fail_prefix keeps the code: %s", err.msg);
    sx_fail(&err, "plain");
    CHECK(err.code == SX_ERROR, "sx_fail is SX_ERROR");
    CHECK(sx_failc(NULL, SX_EIO, "no err") == -1, "a NULL err is allowed");
    CHECK(strcmp(sx_code_name(SX_CODE_COUNT), "SX_?") == 0 && strcmp(sx_code_name(-1), "SX_?") == 0,
          "unknown codes have a name");
    for (int c = 0; c < SX_CODE_COUNT; c++)
        CHECK(strncmp(sx_code_name(c), "SX_", 3) == 0 && *sx_code_text(c), "code %d named", c);
    CHECK(sx_code_from_errno(ENOENT) == SX_ENOTFOUND && sx_code_from_errno(ENOMEM) == SX_ENOMEM &&
          sx_code_from_errno(EACCES) == SX_EIO, "errno mapping");

    /* files */
    char *data = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/absent.bin", dir);
    EXPECT(sx_read_file(p, 1 << 20, &data, &len, E), SX_ENOTFOUND, "missing file");
    EXPECT(sx_read_file(dir, 1 << 20, &data, &len, E), SX_EINVAL, "a folder is not a file");
    write_file("big.bin", "0123456789", 10, p);
    EXPECT(sx_read_file(p, 4, &data, &len, E), SX_EINVAL, "file over the caller's limit");

    /* safetensors */
    sx_safetensors st;
    write_file("short.safetensors", "abc", 3, p);
    EXPECT(sx_st_open(&st, p, E), SX_ECORRUPT, "truncated safetensors");
    write_st("json.safetensors", "{\"a\": [1,", 0, p);
    EXPECT(sx_st_open(&st, p, E), SX_ECORRUPT, "header not JSON");
    write_st("dtype.safetensors", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, p);
    EXPECT(sx_st_open(&st, p, E), SX_EUNSUPPORTED, "unknown dtype");
    write_st("nodt.safetensors", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, p);
    EXPECT(sx_st_open(&st, p, E), SX_ECORRUPT, "entry without dtype");
    write_st("ok.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, p);
    CHECK(sx_st_open(&st, p, &err) == 0, "valid file opens: %s", err.msg);
    float *f = NULL;
    EXPECT(sx_st_read_f32(&st, "b", 1, (int64_t[]){2}, &f, E), SX_ENOTFOUND, "missing tensor");
    EXPECT(sx_st_read_f32(&st, "a", 1, (int64_t[]){3}, &f, E), SX_EINVAL, "wrong shape");
    sx_st_close(&st);

    /* model folders */
    sx_model *m = NULL;
    snprintf(p, sizeof p, "%s/no-model", dir);
    EXPECT(sx_model_load(p, &m, E), SX_ENOTFOUND, "missing model folder");
    snprintf(p, sizeof p, "%s/empty-model", dir);
    mkdir(p, 0755);
    char cfgp[4300];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", p);
    unlink(cfgp); /* left by an earlier run */
    EXPECT(sx_model_load(p, &m, E), SX_ENOTFOUND, "folder without config.json");
    FILE *cf = fopen(cfgp, "w");
    fputs("{\"model_type\": \"llama\"}", cf);
    fclose(cf);
    EXPECT(sx_model_load(p, &m, E), SX_EUNSUPPORTED, "unsupported model_type");
    cf = fopen(cfgp, "w");
    fputs("{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_head\": 3, \"n_layer\": 1, \"vocab_size\": 10, "
          "\"n_positions\": 8}", cf);
    fclose(cf);
    EXPECT(sx_model_load(p, &m, E), SX_ECORRUPT, "inconsistent config (n_embd not divisible by n_head)");

    /* hooks */
    int layer;
    sx_hook_point pt;
    EXPECT(sx_hook_parse("blocks.1.hook_mlp_out", &layer, &pt, E), SX_EUNSUPPORTED, "a hook saetox lacks");

    /* SAEs */
    sx_sae sae;
    snprintf(p, sizeof p, "%s/no-sae", dir);
    EXPECT(sx_sae_load(p, &sae, E), SX_ENOTFOUND, "missing SAE");
    snprintf(p, sizeof p, "%s/sae-bad", dir);
    mkdir(p, 0755);
    snprintf(cfgp, sizeof cfgp, "%s/cfg.json", p);
    cf = fopen(cfgp, "w");
    fputs("{\"architecture\": \"transcoder\", \"d_in\": 4, \"d_sae\": 8}", cf);
    fclose(cf);
    EXPECT(sx_sae_load(p, &sae, E), SX_EUNSUPPORTED, "unsupported SAE architecture");
    return TEST_DONE();
}
