/* test_train_oom.c — a width too large for memory fails with a message that gives the real
 * parameter count (it once read the count after the state was zeroed: "0 parameters"). */
#include "test.h"
#include "train_internal.h"

/* Under ASan a huge calloc aborts unless the allocator may return NULL, as libc's does.  The
 * runtime looks the hook up dynamically, so it must stay visible (the build's default is
 * -fvisibility=hidden). */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int main(void) {
    sx_tsae t;
    sx_err err = {0};
    /* d 65536 x width 2^26: 2^43 parameters (32 TiB of floats), no machine has that. */
    const int d = 1 << 16, m = 1 << 26;
    long long np = 2LL * m * d + m + d;
    int rc = sx_tsae_init(&t, SX_SAE_STANDARD, d, m, 0, 1e-3, "relu-67108864", &err);
    char want[64];
    snprintf(want, sizeof want, "%lld parameters", np);
    CHECK(rc == -1, "allocation of 2^43 parameters reported as failed");
    CHECK(strstr(err.msg, want) != NULL, "message gives the count (%s): %s", want, err.msg);
    CHECK(strstr(err.msg, "relu-67108864") != NULL, "message names the SAE: %s", err.msg);
    printf("%s\n", err.msg);
    return TEST_DONE();
}
