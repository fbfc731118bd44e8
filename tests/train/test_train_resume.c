/* test_train_resume.c — interrupted + resumed training equals uninterrupted training bit for
 * bit (every architecture, 2 threads; with gradient clipping at the parallel sizes); a failed
 * checkpoint write stops the run and leaves the previous checkpoint intact (and resuming
 * from it is still exact); bad options and NaN batches are reported. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define PLANTED_NO_RECOVERY
#include "planted.h"
#include "sx_json.h"
#include "test.h"

static const char *tmp;

static int big; /* 1: sizes above the parallel threshold, so the OpenMP paths run */

static void opts_for(sx_train_opts *o, sx_sae_arch arch, const char *out) {
    sx_train_opts_default(o);
    o->arch = arch;
    o->n_widths = 2, o->widths[0] = 48, o->widths[1] = 96;
    if (arch == SX_SAE_TOPK || arch == SX_SAE_BATCHTOPK) o->n_k = 1, o->ks[0] = 4;
    o->batch = 128, o->tokens = 128 * 16, o->seed = 11, o->log_every = 4;
    o->dead_tokens = 128 * 3; /* so AuxK and dead tracking take part */
    o->out_dir = out;
    if (big) o->widths[0] = 512, o->widths[1] = 520, o->batch = 512, o->tokens = 512 * 12, o->grad_clip = 0.5;
    if (arch == SX_SAE_MATRYOSHKA) { /* one width, three nested prefixes */
        o->n_k = 1, o->ks[0] = 4;
        o->n_widths = 1, o->widths[0] = o->widths[1];
        o->n_groups = 3, o->groups[0] = 8, o->groups[1] = 40, o->groups[2] = o->widths[0];
    }
}

static int run(sx_train_opts *o, sx_err *err) {
    planted p;
    planted_init(&p, 24, 40, 3, 0.02, 3);
    sx_batch_source src = planted_source(&p);
    int rc = sx_train_run(o, &src, err);
    free(p.atoms);
    return rc;
}

static int same_weights(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    sx_err err;
    if (sx_read_file(a, 1 << 30, &x, &nx, &err) || sx_read_file(b, 1 << 30, &y, &ny, &err)) return 0;
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return same;
}

/* The (step, sae) sequence of DIR/metrics.jsonl, one "step:sae" per line (timings differ
 * between runs, the sequence must not). */
static char *metrics_steps(const char *dir) {
    char p[4400], *buf;
    size_t len;
    sx_err err;
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    if (sx_read_file(p, 1 << 26, &buf, &len, &err)) return strdup("(unreadable)");
    char *out = calloc(1, len + 1), *w = out;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        const char *sae = "";
        int64_t step = -1;
        if (j) sx_json_int(j, "step", &step, "metrics", &err), sx_json_str(j, "sae", &sae, "metrics", &err);
        w += sprintf(w, "%lld:%.40s\n", (long long)step, j ? sae : "(not JSON)");
        cJSON_Delete(j);
    }
    free(buf);
    return out;
}

/* A pid no process has: a child that has exited and been reaped. */
static long dead_pid(void) {
    pid_t c = fork();
    if (c == 0) _exit(0);
    waitpid(c, NULL, 0);
    return (long)c;
}

static void check_arch(sx_sae_arch arch) {
    char a[4200], b[4200], c[4200], pa[4400], pb[4400], pc[4400], name[64];
    snprintf(a, sizeof a, "%s/a%d%s", tmp, arch, big ? "big" : "");
    snprintf(b, sizeof b, "%s/b%d%s", tmp, arch, big ? "big" : "");
    snprintf(c, sizeof c, "%s/c%d%s", tmp, arch, big ? "big" : "");
    sx_train_opts o;
    sx_err err = {0};
    opts_for(&o, arch, a);
    CHECK(run(&o, &err) == 0, "uninterrupted: %s", err.msg);
    /* interrupted at step 9 (checkpoint written), then resumed */
    opts_for(&o, arch, b);
    o.stop_after_steps = 7;
    CHECK(run(&o, &err) == 0, "interrupted: %s", err.msg);
    snprintf(pb, sizeof pb, "%s/checkpoint/state.json", b);
    CHECK(sx_file_exists(pb), "checkpoint written at the stop");
    opts_for(&o, arch, b);
    o.resume = 1;
    CHECK(run(&o, &err) == 0, "resume: %s", err.msg);
    /* checkpoints every 4 steps; the write at step 8 fails: the run stops, step 4 stays */
    opts_for(&o, arch, c);
    o.checkpoint_every = 4;
    setenv("SAETOX_FAIL_CHECKPOINT", "8", 1);
    int rc = run(&o, &err);
    unsetenv("SAETOX_FAIL_CHECKPOINT");
    CHECK(rc == -1 && strstr(err.msg, "intact"), "failed checkpoint reported: %s", err.msg);
    snprintf(pc, sizeof pc, "%s/checkpoint/state.json", c);
    cJSON *st = sx_json_parse_file(pc, 1 << 20, &err);
    int64_t step = -1;
    if (st) sx_json_int(st, "step", &step, pc, &err);
    cJSON_Delete(st);
    CHECK(step == 4, "previous checkpoint intact (step %lld)", (long long)step);
    /* what kill -9 inside a checkpoint write leaves: a temp folder of a dead process */
    char stale[4400], stale_f[4500];
    snprintf(stale, sizeof stale, "%s/checkpoint.tmp.%ld", c, dead_pid());
    snprintf(stale_f, sizeof stale_f, "%s/sae_0.safetensors", stale);
    CHECK(sx_mkdir_p(stale, &err) == 0 && sx_write_file_atomic(stale_f, "x", 1, &err) == 0, "stale dir: %s",
          err.msg);
    opts_for(&o, arch, c);
    o.resume = 1, o.checkpoint_every = 4;
    CHECK(run(&o, &err) == 0, "resume after failed checkpoint: %s", err.msg);
    CHECK(!sx_is_dir(stale), "stale %s removed at start", stale);
    /* The failed run logged step 8 before its checkpoint failed; the resumed run logs it
     * again from step 5: the log must hold each step once, as the uninterrupted run's. */
    char *ma = metrics_steps(a), *mb = metrics_steps(b), *mc = metrics_steps(c);
    CHECK(strcmp(ma, mc) == 0, "metrics after resume from step 4:\n%s\nuninterrupted:\n%s", mc, ma);
    CHECK(strcmp(ma, mb) == 0, "metrics after stop+resume:\n%s\nuninterrupted:\n%s", mb, ma);
    free(ma), free(mb), free(mc);
    for (int i = 0; i < sx_train_n_saes(&o); i++) {
        sx_train_sae_name(&o, i, name, sizeof name);
        snprintf(pa, sizeof pa, "%s/%s/sae_weights.safetensors", a, name);
        snprintf(pb, sizeof pb, "%s/%s/sae_weights.safetensors", b, name);
        snprintf(pc, sizeof pc, "%s/%s/sae_weights.safetensors", c, name);
        CHECK(same_weights(pa, pb), "%s: resumed after a stop differs from uninterrupted", name);
        CHECK(same_weights(pa, pc), "%s: resumed after a failed checkpoint differs", name);
    }
    printf("arch %d%s: interrupted+resumed == uninterrupted (bitwise), failed checkpoint left step 4 intact\n", arch,
           big ? " (parallel sizes)" : "");
}

static void check_bad(void) {
    char out[4200];
    snprintf(out, sizeof out, "%s/bad", tmp);
    sx_train_opts o;
    sx_err err = {0};
    opts_for(&o, SX_SAE_TOPK, out);
    o.widths[1] = 0;
    CHECK(run(&o, &err) == -1 && strstr(err.msg, "width 0"), "width 0: %s", err.msg);
    opts_for(&o, SX_SAE_TOPK, out);
    o.ks[0] = 0;
    CHECK(run(&o, &err) == -1 && strstr(err.msg, "k 0"), "k 0: %s", err.msg);
    opts_for(&o, SX_SAE_TOPK, out);
    o.ks[0] = 50;
    CHECK(run(&o, &err) == -1 && strstr(err.msg, "larger than width 48"), "k > width: %s", err.msg);
    opts_for(&o, SX_SAE_TOPK, out);
    o.resume = 1;
    snprintf(out, sizeof out, "%s/never", tmp);
    o.out_dir = out;
    CHECK(run(&o, &err) == -1 && strstr(err.msg, "no checkpoint"), "resume without checkpoint: %s", err.msg);
    /* NaN in row 300 (batch 3 of 128 rows): stop names it; skip continues */
    snprintf(out, sizeof out, "%s/nan", tmp);
    for (int policy = 0; policy < 2; policy++) {
        opts_for(&o, SX_SAE_STANDARD, out);
        o.nan_policy = policy ? SX_NAN_SKIP : SX_NAN_STOP;
        planted p;
        planted_init(&p, 24, 40, 3, 0.02, 3);
        p.nan_at = 300;
        sx_batch_source src = planted_source(&p);
        int rc = sx_train_run(&o, &src, &err);
        if (!policy)
            CHECK(rc == -1 && strstr(err.msg, "NaN") && strstr(err.msg, "planted") && strstr(err.msg, "row 300 "),
                  "NaN stop: %s", err.msg);
        else
            CHECK(rc == 0, "NaN skip continues: %s", err.msg);
        free(p.atoms);
    }
}

int main(void) {
    sx_set_threads(2);
    tmp = test_tmpdir("train_resume");
    check_bad();
    check_arch(SX_SAE_TOPK);
    check_arch(SX_SAE_STANDARD);
    check_arch(SX_SAE_BATCHTOPK);
    check_arch(SX_SAE_JUMPRELU);
    check_arch(SX_SAE_MATRYOSHKA);
    check_arch(SX_SAE_GATED);
    big = 1;
    check_arch(SX_SAE_TOPK);
    check_arch(SX_SAE_STANDARD);
    check_arch(SX_SAE_MATRYOSHKA);
    check_arch(SX_SAE_GATED);
    return TEST_DONE();
}
