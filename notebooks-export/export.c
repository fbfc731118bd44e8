/* export.c — sx_export_run: load a run folder, then write the reports, the notebook, the
 * dashboard and the plots into the output folder. */
#include "export_int.h"

#include <cairo.h>
#include <dlfcn.h>

#include <stdlib.h>
#include <string.h>

int sx_export_run(const char *in_dir, const char *out_dir, const sx_export_opts *opts,
                  sx_export_notes *notes, sx_err *err) {
    sx_export_opts o = {0};
    if (opts) o = *opts;
    if (o.max_contexts <= 0) o.max_contexts = 8;
    if (o.max_latents <= 0) o.max_latents = 64;
    if (notes) notes->n = 0;
    xp_run *run = calloc(1, sizeof *run);
    if (!run) return sx_failc(err, SX_ENOMEM, "out of memory");
    int rc = -1;
    char path[4096];
    if (xp_load(in_dir, out_dir, run, notes, err)) goto done;
    if (xp_load_features(run, in_dir, out_dir, o.max_latents, notes, err)) goto done;
    if (sx_mkdir_p(out_dir, err)) goto done;
    if (xp_write_neuronpedia(run, out_dir, notes, err)) goto done;
    if (xp_write_reports(run, out_dir, notes, err)) goto done;
    if (xp_write_compare(run, in_dir, out_dir, o.skip_plots, notes, err)) goto done;
    if (!o.skip_notebook) {
        sx_path_join(path, sizeof path, out_dir, "report.ipynb");
        if (xp_write_notebook(path, err)) goto done;
        xp_note(notes, "wrote %s", path);
    }
    if (!o.skip_html) {
        sx_path_join(path, sizeof path, out_dir, "dashboard.html");
        if (xp_write_dashboard(run, path, &o, err)) goto done;
        xp_note(notes, "wrote %s", path);
    }
    if (!o.skip_plots) {
        sx_path_join(path, sizeof path, out_dir, "plots");
        if (xp_write_plots(run, path, notes, err)) goto done;
    }
    rc = 0;
done:
    xp_free(run);
    free(run);
    return rc;
}

void sx_export_release_caches(void) {
    cairo_debug_reset_static_data();
    /* fontconfig comes in with cairo but is not linked directly: look FcFini up at run time */
    void (*fc_fini)(void) = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "FcFini");
    memcpy(&fc_fini, &sym, sizeof fc_fini);
    if (fc_fini) fc_fini();
}
