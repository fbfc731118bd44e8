/* bench_tokenizer.c — tokenizer load time and encode speed (MB/s) on tinyshakespeare
 * (../shared/data), for GPT-2 (encoder.json + vocab.bpe) and Gemma (tokenizer.json),
 * encoding the whole file in one call and line by line.  Prints wall and CPU seconds (CPU
 * time is the better figure on a shared machine).  Targets: GPT-2 >= 5 MB/s, Gemma >= 2 MB/s,
 * Gemma load <= 1.5 s CPU.
 *   bench_tokenizer [shared_dir] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_args.h"

#include "core.h"
#include "tokenizer.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench(const char *name, const char *dir, const char *text, size_t len,
                  double target) {
    sx_err err = {0};
    sx_tokenizer *t;
    double w0 = sx_now(), c0 = cpu_now();
    if (sx_tokenizer_load(dir, &t, &err)) {
        printf("%s: %s\n", name, err.msg);
        return;
    }
    printf("%-6s load: %.3f s wall, %.3f s CPU (vocab %d)\n", name, sx_now() - w0,
           cpu_now() - c0, sx_tokenizer_vocab_size(t));
    int32_t *ids;
    int n;
    w0 = sx_now(), c0 = cpu_now();
    if (sx_tokenizer_encode(t, text, len, 0, &ids, &n, &err)) {
        printf("%s: %s\n", name, err.msg);
        sx_tokenizer_free(t);
        return;
    }
    double w = sx_now() - w0, c = cpu_now() - c0;
    printf("%-6s whole file: %d tokens, %.2f MB/s wall, %.2f MB/s CPU (target %.0f: x%.2f)\n",
           name, n, len / 1e6 / w, len / 1e6 / c, target, len / 1e6 / c / target);
    free(ids);
    w0 = sx_now(), c0 = cpu_now();
    long total = 0;
    for (size_t s = 0; s < len;) {
        const char *nl = memchr(text + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - text) + 1 : len;
        if (sx_tokenizer_encode(t, text + s, e - s, 0, &ids, &n, &err)) break;
        total += n;
        free(ids);
        s = e;
    }
    w = sx_now() - w0, c = cpu_now() - c0;
    printf("%-6s per line:   %ld tokens, %.2f MB/s wall, %.2f MB/s CPU (target %.0f: x%.2f)\n",
           name, total, len / 1e6 / w, len / 1e6 / c, target, len / 1e6 / c / target);
    sx_tokenizer_free(t);
}

int main(int argc, char **argv) {
    bench_positional(argc, argv, 1, "usage: bench_tokenizer [shared_dir (default: ../shared found from here)]\n");
    const char *shared = argc > 1 ? argv[1] : sx_shared_dir();
    if (!shared) {
        printf("SKIP: ../shared not found\n");
        return 0;
    }
    char path[4096], g2[4096], gm[4096];
    snprintf(path, sizeof path, "%s/data/text/tinyshakespeare.txt", shared);
    snprintf(g2, sizeof g2, "%s/data/gpt2-tokenizer", shared);
    snprintf(gm, sizeof gm, "%s/data/gemma-tokenizer", shared);
    char *text;
    size_t len;
    sx_err err = {0};
    if (sx_read_file(path, (size_t)1 << 30, &text, &len, &err)) {
        printf("%s\n", err.msg);
        return 1;
    }
    bench("gpt2", g2, text, len, 5);
    bench("gemma", gm, text, len, 2);
    free(text);
    return 0;
}
