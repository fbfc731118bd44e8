/* datadir.c — where saetox's own data lives (the embedded model, the demo texts, the scorer
 * weights): share/saetox of the installed prefix, found relative to the running library or
 * program, so an installed tree can be moved (or unpacked anywhere) and still find it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#ifndef SAETOX_SOURCE_DIR
#define SAETOX_SOURCE_DIR "."
#endif
#ifndef SAETOX_INSTALL_DATADIR
#define SAETOX_INSTALL_DATADIR "/usr/local/share/saetox"
#endif

/* A data folder is one that holds the embedded model's config. */
static int is_data_dir(const char *dir) {
    char p[PATH_MAX + 64];
    if (snprintf(p, sizeof p, "%s/models/embedded/config.json", dir) >= (int)sizeof p) return 0;
    return sx_file_exists(p);
}

static char g_dir[PATH_MAX];

/* <object's folder>/../share/saetox, for lib/, lib64/, lib/<multiarch>/ and bin/. */
static int from_object(void) {
    Dl_info info;
    if (!dladdr((void *)&sx_data_dir, &info) || !info.dli_fname) return 0;
    char obj[PATH_MAX];
    if (!realpath(info.dli_fname, obj)) return 0;
    for (int up = 1; up <= 2; up++) {
        char *slash = strrchr(obj, '/');
        if (!slash || slash == obj) return 0;
        *slash = 0; /* obj is now the folder (then its parent) */
        char cand[PATH_MAX];
        if (snprintf(cand, sizeof cand, "%s/../share/saetox", obj) >= (int)sizeof cand) return 0;
        if (is_data_dir(cand) && realpath(cand, g_dir)) return 1;
    }
    return 0;
}

static void find_once(void) {
    const char *home = getenv("SAETOX_HOME");
    if (home && *home) {
        snprintf(g_dir, sizeof g_dir, "%s", home);
        return;
    }
    if (from_object()) return;
    const char *fixed[] = {SAETOX_SOURCE_DIR, SAETOX_INSTALL_DATADIR}; /* a build tree, then the configured prefix */
    for (int i = 0; i < 2; i++)
        if (is_data_dir(fixed[i])) {
            snprintf(g_dir, sizeof g_dir, "%s", fixed[i]);
            return;
        }
    g_dir[0] = 0;
}

const char *sx_data_dir(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, find_once);
    return g_dir[0] ? g_dir : NULL;
}
