/* version.c — `saetox --version`: what this binary is and what it runs on (the line format
 * is read by tests/simd_run.sh: "simd: <path> (runs here: <paths>) ..."). */
#include <archive.h>
#include <cblas.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core.h"
#include "sx_gitrev.h"

void cli_print_version(FILE *f) {
    const char *rev = SX_GIT_REV;
    fprintf(f, "saetox %s%s%s%s\n", SAETOX_VERSION, *rev ? " (git " : "", rev, *rev ? ")" : "");
    char runs[64] = "";
    for (int l = SX_SIMD_GENERIC; l <= SX_SIMD_NATIVE; l++)
        if (sx_simd_supported((sx_simd_level)l)) {
            if (*runs) snprintf(runs + strlen(runs), sizeof runs - strlen(runs), " ");
            snprintf(runs + strlen(runs), sizeof runs - strlen(runs), "%s", sx_simd_name((sx_simd_level)l));
        }
    const char *env = getenv("SAETOX_SIMD");
    fprintf(f, "simd: %s (runs here: %s) built: %s; %s\n", sx_simd_name(sx_simd()), runs, SAETOX_ISAS,
            env && *env ? "chosen by SAETOX_SIMD" : "best for this CPU (SAETOX_SIMD=generic|avx2|avx512 to force)");
    const char *core = openblas_get_corename();
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    fprintf(f, "openblas: %s; core %s%s%s; %d threads\n", openblas_get_config(), core ? core : "?",
            coretype ? ", OPENBLAS_CORETYPE=" : "", coretype ? coretype : "", openblas_get_num_threads());
    fprintf(f, "openmp threads: %d\n", sx_get_threads());
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    fprintf(f, "hdf5: %u.%u.%u\n", maj, min, rel);
    fprintf(f, "libarchive: %s\n", archive_version_details());
    const char *data = sx_data_dir();
    fprintf(f, "data: %s\n", data ? data : "(not found: set SAETOX_HOME)");
}
