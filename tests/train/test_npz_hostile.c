/* test_npz_hostile.c — params.npz members are read by what the archive really holds, not by
 * the size its zip header claims: a 100-byte zip that declares a 3.9 GB member is refused
 * after its first bytes (bad magic, or a .npy header that disagrees with the claim), and a
 * member whose header claims more data than arrives fails as truncated without first
 * allocating the claim. */
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sae_internal.h"
#include "test.h"

static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void le16(FILE *f, unsigned v) { fputc(v & 255, f), fputc((v >> 8) & 255, f); }
static void le32(FILE *f, uint32_t v) { le16(f, v & 0xFFFF), le16(f, v >> 16); }

/* A one-member stored (uncompressed) zip whose headers declare `declared` bytes while
 * only `n` bytes of data follow. */
static void make_zip(const char *path, const char *name, uint32_t declared, const unsigned char *data,
                     size_t n) {
    FILE *f = fopen(path, "wb");
    uint32_t crc = crc32_of(data, n);
    size_t nl = strlen(name);
    le32(f, 0x04034b50), le16(f, 20), le16(f, 0), le16(f, 0), le16(f, 0), le16(f, 0x21);
    le32(f, crc), le32(f, declared), le32(f, declared), le16(f, (unsigned)nl), le16(f, 0);
    fwrite(name, 1, nl, f);
    fwrite(data, 1, n, f);
    long cd = ftell(f);
    le32(f, 0x02014b50), le16(f, 20), le16(f, 20), le16(f, 0), le16(f, 0), le16(f, 0), le16(f, 0x21);
    le32(f, crc), le32(f, declared), le32(f, declared), le16(f, (unsigned)nl), le16(f, 0), le16(f, 0);
    le16(f, 0), le16(f, 0), le32(f, 0), le32(f, 0);
    fwrite(name, 1, nl, f);
    long end = ftell(f);
    le32(f, 0x06054b50), le16(f, 0), le16(f, 0), le16(f, 1), le16(f, 1);
    le32(f, (uint32_t)(end - cd)), le32(f, (uint32_t)cd), le16(f, 0);
    fclose(f);
}

/* A v1 .npy image of n float32 zeros, shape (n,), header claiming `claim` elements. */
static size_t make_npy(unsigned char *out, long claim, int n) {
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%ld,), }", claim);
    while ((10 + hl + 1) % 64) hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (unsigned char)(hl & 255), out[9] = (unsigned char)(hl >> 8);
    memcpy(out + 10, hdr, (size_t)hl);
    memset(out + 10 + hl, 0, (size_t)n * 4);
    return 10 + (size_t)hl + (size_t)n * 4;
}

static int read_npz(const char *path, sx_err *err) {
    sx_npy_array *a = NULL;
    int n = 0;
    int rc = sx_npz_read(path, &a, &n, err);
    sx_npz_free(a, n);
    return rc;
}

/* Run read_npz on path in a child whose address space is capped at 1 GB (not under
 * sanitizers, which reserve terabytes of it): allocating a multi-GB claim up front then fails
 * as "out of memory" instead of reading what is there.  1 when the error has want. */
static int capped_read(const char *path, const char *want) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
#if !defined(__SANITIZE_ADDRESS__)
        struct rlimit rl = {1u << 30, 1u << 30};
        setrlimit(RLIMIT_AS, &rl);
#endif
        sx_err e2 = {0};
        int rc = read_npz(path, &e2);
        printf("  %s\n", e2.msg);
        fflush(stdout);
        _exit(rc == -1 && strstr(e2.msg, want) && !strstr(e2.msg, "out of memory") ? 0 : 1);
    }
    int st = 0;
    waitpid(c, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void) {
    const char *dir = test_tmpdir("npz_hostile");
    char path[4200];
    snprintf(path, sizeof path, "%s/params.npz", dir);
    sx_err err = {0};
    static unsigned char img[70000];

    /* the good case: 4 floats, declared size = real size */
    size_t n = make_npy(img, 4, 4);
    make_zip(path, "b_dec.npy", (uint32_t)n, img, n);
    CHECK(read_npz(path, &err) == 0, "valid stored member: %s", err.msg);

    /* 3.9 GB declared, 64 KB of text: refused on the magic */
    static unsigned char text[65536];
    memset(text, 'x', sizeof text);
    make_zip(path, "W_enc.npy", 0xF0000000u, text, sizeof text);
    CHECK(capped_read(path, "bad magic"), "declared 3.9 GB, 64 KB of text: bad magic");
    /* the same in a 100-byte zip: libarchive finds it truncated; nothing big is allocated */
    make_zip(path, "W_enc.npy", 0xF0000000u, text, 20);
    CHECK(capped_read(path, "W_enc.npy"), "declared 3.9 GB, 20 bytes");

    /* a .npy header for 16000 floats, declared 3.9 GB: the two disagree */
    n = make_npy(img, 16000, 16000);
    make_zip(path, "W_dec.npy", 0xF0000000u, img, n);
    CHECK(capped_read(path, "implies"), "header vs declared size");

    /* header and declared size agree on 1e9 floats (4 GB) but 64 KB arrive: truncated */
    n = make_npy(img, 1000000000L, 16000);
    make_zip(path, "W_enc.npy", (uint32_t)(n - 64000 + 4000000000u), img, n);
    CHECK(capped_read(path, "runcated"), "4 GB claim with 64 KB: truncated, within 1 GB");
    return TEST_DONE();
}
