/* test_writer.c — the cache writer on its own: f32/f16, compression, odd append sizes, the
 * .partial name and rename, attributes (sx_cache_info_read), abort, library-level resume
 * (truncation to rows_committed) and the round trip through the reader. */
#include <unistd.h>

#include "datasets.h"
#include "test.h"

#define D 24

static float val(int64_t i, int j) { return (float)((i * 7 + j * 3) % 1000) * 0.125f - 60.0f; }

static void fill(float *x, int64_t start, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = val(start + i, j);
}

static int append_range(sx_cache_writer *w, int64_t start, int64_t n, sx_err *err) {
    float *x = malloc(sizeof(float) * (size_t)n * D);
    int32_t *t = malloc(sizeof(int32_t) * (size_t)n);
    fill(x, start, n);
    for (int64_t i = 0; i < n; i++) t[i] = (int32_t)(start + i);
    int rc = sx_cache_writer_append(w, x, t, NULL, NULL, n, err);
    free(x);
    free(t);
    return rc;
}

/* Read the whole cache sequentially and compare with val(). */
static int check_contents(const char *path, int64_t rows) {
    sx_act_reader *r;
    sx_err err;
    sx_act_reader_opts o = {0};
    const char *p[1] = {path};
    if (sx_act_reader_open(p, 1, &o, &r, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    float *x = malloc(sizeof(float) * (size_t)rows * D);
    int ok = sx_act_reader_rows(r) == rows && sx_act_reader_next(r, x, rows, &err) == rows;
    for (int64_t i = 0; ok && i < rows; i++)
        for (int j = 0; j < D; j++) ok &= x[i * D + j] == val(i, j); /* exact in f16 too */
    free(x);
    sx_act_reader_close(r);
    return ok;
}

int main(void) {
    const char *dir = test_tmpdir("ds_writer");
    char out[4200], part[4300];
    sx_err err;
    for (int f16 = 0; f16 < 2; f16++) {
        snprintf(out, sizeof out, "%s/w%d.h5", dir, f16);
        sx_cache_partial_path(out, part, sizeof part);
        unlink(out);
        sx_cache_meta m = {.d_in = D, .f16 = f16, .compress = f16, .chunk_rows = 100, .hook_name = "blocks.3.hook_resid_post",
                           .model = "m", .source = "text:x", .context_size = 16, .n_tokens_target = 5000};
        sx_cache_writer *w;
        int64_t done = -1;
        CHECK(sx_cache_writer_open(out, &m, 0, &w, &done, &err) == 0 && done == 0, "open: %s", err.msg);
        CHECK(sx_file_exists(part) && !sx_file_exists(out), "writes under .partial");
        int64_t at = 0;
        const int64_t sizes[] = {1, 99, 333, 1000, 7, 2560};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            CHECK(append_range(w, at, sizes[k], &err) == 0, "append: %s", err.msg);
            at += sizes[k];
        }
        CHECK(sx_cache_writer_rows(w) == at, "rows appended");
        CHECK(sx_cache_writer_finish(w, &err) == 0, "finish: %s", err.msg);
        CHECK(sx_file_exists(out) && !sx_file_exists(part), "renamed");
        CHECK(check_contents(out, at), "contents (%s)", f16 ? "f16" : "f32");
        sx_cache_info info;
        CHECK(sx_cache_info_read(out, &info, &err) == 0 && info.rows == at && info.d_in == D &&
                  info.elem_size == (f16 ? 2 : 4) && info.complete == 1 && info.context_size == 16 &&
                  !strcmp(info.hook_name, "blocks.3.hook_resid_post") && !strcmp(info.model, "m"),
              "info: %s", err.msg);

        /* crash after some groups: abort keeps the partial; resume truncates to the last
         * committed group and the continued file equals the straight one */
        char out2[4300], part2[4400];
        snprintf(out2, sizeof out2, "%s/r%d.h5", dir, f16);
        sx_cache_partial_path(out2, part2, sizeof part2);
        unlink(out2);
        unlink(part2);
        CHECK(sx_cache_writer_open(out2, &m, 0, &w, &done, &err) == 0, "open 2");
        CHECK(append_range(w, 0, 2345, &err) == 0, "append 2345");
        sx_cache_writer_abort(w, 1);
        CHECK(sx_file_exists(part2), "abort(keep) leaves the partial");
        CHECK(sx_cache_writer_open(out2, &m, 1, &w, &done, &err) == 0, "resume: %s", err.msg);
        CHECK(done > 0 && done < 2345 && done % 100 == 0, "committed %lld rows (whole chunks)", (long long)done);
        CHECK(append_range(w, done, at - done, &err) == 0, "append rest");
        CHECK(sx_cache_writer_finish(w, &err) == 0, "finish 2");
        CHECK(check_contents(out2, at), "resumed contents");
        /* resume with another hook is refused and leaves the partial alone */
        CHECK(sx_cache_writer_open(out2, &m, 0, &w, &done, &err) == 0, "open 3");
        CHECK(append_range(w, 0, 1000, &err) == 0, "append");
        sx_cache_writer_abort(w, 1);
        sx_cache_meta m2 = m;
        m2.hook_name = "blocks.4.hook_resid_post";
        CHECK(sx_cache_writer_open(out2, &m2, 1, &w, &done, &err) == -1 && strstr(err.msg, "hook_name") &&
                  strstr(err.msg, part2), "other hook refused: %s", err.msg);
        CHECK(sx_file_exists(part2), "partial kept");
        CHECK(sx_cache_writer_open(out2, &m, 1, &w, &done, &err) == 0, "resume again");
        sx_cache_writer_abort(w, 0);
        CHECK(!sx_file_exists(part2), "abort(0) deletes the partial");
    }
    sx_cache_meta bad = {.d_in = 0};
    sx_cache_writer *w;
    CHECK(sx_cache_writer_open("/nonexistent-dir/x.h5", &bad, 0, &w, NULL, &err) == -1, "d_in 0");
    bad.d_in = 4;
    CHECK(sx_cache_writer_open("/nonexistent-dir/x.h5", &bad, 0, &w, NULL, &err) == -1 &&
              strstr(err.msg, "/nonexistent-dir/x.h5.partial"), "unwritable: %s", err.msg);
    return TEST_DONE();
}
