/* hooks.c — TransformerLens hook names and calling registered hooks at block boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

int sx_hook_parse(const char *name, int *layer, sx_hook_point *point, sx_err *err) {
    if (!name) return sx_failc(err, SX_ENOTFOUND, "hook name is missing");
    const char *p = name;
    if (strncmp(p, "blocks.", 7) != 0) goto bad;
    p += 7;
    if (*p < '0' || *p > '9') goto bad;
    long l = 0;
    while (*p >= '0' && *p <= '9') {
        l = l * 10 + (*p - '0');
        if (l > 1000000) goto bad;
        p++;
    }
    if (!strcmp(p, ".hook_resid_pre")) {
        *point = SX_HOOK_RESID_PRE;
    } else if (!strcmp(p, ".hook_resid_post")) {
        *point = SX_HOOK_RESID_POST;
    } else {
        goto bad;
    }
    *layer = (int)l;
    return 0;
bad:
    return sx_failc(err, SX_EUNSUPPORTED, "unsupported hook name '%s' (expected blocks.L.hook_resid_pre or blocks.L.hook_resid_post)",
                   name);
}

int sx__hooks_check(const sx_model *m, const sx_hook *hooks, int n_hooks, sx_err *err) {
    if (n_hooks > 0 && !hooks) return sx_failc(err, SX_EINVAL, "%d hooks given but the hook array is NULL", n_hooks);
    for (int i = 0; i < n_hooks; i++) {
        if (hooks[i].layer < 0 || hooks[i].layer >= m->cfg.n_layers)
            return sx_failc(err, SX_EINVAL, "%s: hook on layer %d, but the model has %d layers (0..%d)", m->dir,
                           hooks[i].layer, m->cfg.n_layers, m->cfg.n_layers - 1);
        if (hooks[i].point != SX_HOOK_RESID_PRE && hooks[i].point != SX_HOOK_RESID_POST)
            return sx_failc(err, SX_ENOTFOUND, "hook %d: unknown hook point %d", i, (int)hooks[i].point);
        if (!hooks[i].fn) return sx_failc(err, SX_ENOTFOUND, "hook %d has no function", i);
    }
    return 0;
}

/* Hooks at (layer, pt) run in registration order, each seeing the previous one's edits. */
int sx__hooks_call(const sx_hook *hooks, int n_hooks, int layer, sx_hook_point pt,
                   const sx_rowset *rs, int d, float *x, sx_err *err) {
    for (int i = 0; i < n_hooks; i++) {
        if (hooks[i].layer != layer || hooks[i].point != pt) continue;
        sx_hook_ctx ctx = {.layer = layer, .point = pt, .n_rows = rs->n, .d = d,
                           .seq_of_row = rs->seq, .pos_of_row = rs->pos, .token_of_row = rs->tok};
        if (err) err->msg[0] = 0;
        if (hooks[i].fn(hooks[i].user, &ctx, x, err)) {
            if (!err || !err->msg[0]) sx_fail(err, "hook at blocks.%d.%s failed", layer,
                                              pt == SX_HOOK_RESID_PRE ? "hook_resid_pre" : "hook_resid_post");
            return -1;
        }
    }
    return 0;
}
