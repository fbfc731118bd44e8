/* mc.c — multiple-choice benchmark accuracy by log-likelihood (lm-eval-harness style):
 * acc = argmax of the summed log p(choice | context), acc_norm = argmax of that sum divided
 * by the choice's length in bytes.  Context and choice are tokenised separately (the choice
 * keeps its leading space), so the choice tokens are exactly the scored ones. */
#include "io.h"
#include "sx_json.h"
#include "steering.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sx_mc_free(sx_mc_item *items, int64_t n) {
    if (!items) return;
    for (int64_t i = 0; i < n; i++) {
        free(items[i].context);
        for (int c = 0; c < items[i].n_choices; c++) free(items[i].choices[c]);
        free(items[i].choices);
    }
    free(items);
}

static char *dupn(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

static int grow(sx_mc_item **items, int64_t n, int64_t *cap) {
    if (n < *cap) return 0;
    int64_t nc = *cap ? *cap * 2 : 256;
    sx_mc_item *ni = realloc(*items, sizeof(sx_mc_item) * (size_t)nc);
    if (!ni) return -1;
    *items = ni;
    *cap = nc;
    return 0;
}

static int load_jsonl(const char *path, int64_t max, sx_mc_item **items, int64_t *n, sx_err *err) {
    sx_jsonl_reader *jr; /* io's JSONL reader */
    if (sx_jsonl_open(path, &jr, err)) return -1;
    int64_t cap = 0;
    int ret = 0;
    cJSON *j;
    while (!ret && (max <= 0 || *n < max) && (ret = sx_jsonl_next(jr, &j, err)) == 1) {
        ret = 0;
        long line = (long)sx_jsonl_line(jr);
        const cJSON *cx = j ? cJSON_GetObjectItem(j, "context") : NULL, *ch = j ? cJSON_GetObjectItem(j, "choices") : NULL;
        const cJSON *lb = j ? cJSON_GetObjectItem(j, "label") : NULL;
        int nc = cJSON_IsArray(ch) ? cJSON_GetArraySize(ch) : 0;
        if (!cJSON_IsString(cx) || nc < 2 || !cJSON_IsNumber(lb) || lb->valuedouble < 0 || lb->valuedouble >= nc ||
            lb->valuedouble != floor(lb->valuedouble)) {
            ret = sx_failc(err, SX_ECORRUPT, "%s:%ld: expected {\"context\": str, \"choices\": [>= 2 strings], \"label\": index}", path, line);
        } else if (grow(items, *n, &cap)) {
            ret = sx_failc(err, SX_ENOMEM, "out of memory");
        } else {
            sx_mc_item *it = &(*items)[*n];
            it->context = strdup(cx->valuestring);
            it->choices = calloc((size_t)nc, sizeof(char *));
            it->n_choices = nc;
            it->label = (int)lb->valuedouble;
            (*n)++;
            for (int c = 0; c < nc && !ret; c++) {
                const cJSON *e = cJSON_GetArrayItem(ch, c);
                if (!cJSON_IsString(e) || !*e->valuestring)
                    ret = sx_failc(err, SX_ECORRUPT, "%s:%ld: choice %d is not a non-empty string", path, line, c);
                else
                    it->choices[c] = strdup(e->valuestring);
            }
        }
        cJSON_Delete(j);
    }
    sx_jsonl_close(jr);
    if (ret > 0) ret = 0;
    if (!ret && *n == 0) ret = sx_failc(err, SX_ENOTFOUND, "%s: no items", path);
    return ret;
}

/* Find hellaswag_val_correct*.txt / hellaswag_val_wrong*.txt (or correct*.txt / wrong*.txt)
 * in dir. */
static int find_pair(const char *dir, char *cor, char *wrong, size_t sz) {
    static const char *C[] = {"hellaswag_val_correct.400.txt", "hellaswag_val_correct.txt", "correct.txt"};
    static const char *W[] = {"hellaswag_val_wrong.400.txt", "hellaswag_val_wrong.txt", "wrong.txt"};
    for (int i = 0; i < 3; i++) {
        snprintf(cor, sz, "%s/%s", dir, C[i]);
        snprintf(wrong, sz, "%s/%s", dir, W[i]);
        if (sx_file_exists(cor) && sx_file_exists(wrong)) return 0;
    }
    return -1;
}

static int load_pairs(const char *dir, int64_t max, sx_mc_item **items, int64_t *n, sx_err *err) {
    char cp[4200], wp[4200];
    if (find_pair(dir, cp, wp, sizeof cp))
        return sx_failc(err, SX_ENOTFOUND, "%s: no hellaswag_val_correct*.txt + hellaswag_val_wrong*.txt pair", dir);
    char *a, *b;
    size_t la, lb;
    if (sx_read_file(cp, (size_t)1 << 30, &a, &la, err)) return -1;
    if (sx_read_file(wp, (size_t)1 << 30, &b, &lb, err)) {
        free(a);
        return -1;
    }
    int64_t cap = 0;
    long line = 0;
    int ret = 0;
    char *pa = a, *pb = b;
    while (pa < a + la && pb < b + lb && !ret && (max <= 0 || *n < max)) {
        char *na = memchr(pa, '\n', (size_t)(a + la - pa)), *nb = memchr(pb, '\n', (size_t)(b + lb - pb));
        size_t l1 = na ? (size_t)(na - pa) : (size_t)(a + la - pa), l2 = nb ? (size_t)(nb - pb) : (size_t)(b + lb - pb);
        char *s1 = pa, *s2 = pb;
        pa += l1 + 1, pb += l2 + 1;
        line++;
        while (l1 && s1[l1 - 1] == '\r') l1--;
        while (l2 && s2[l2 - 1] == '\r') l2--;
        if (!l1 && !l2) continue;
        size_t lcp = 0;
        while (lcp < l1 && lcp < l2 && s1[lcp] == s2[lcp]) lcp++;
        /* cut back to a word boundary: the context ends before the space that starts the
         * first differing word */
        size_t cut = lcp;
        while (cut > 0 && s1[cut - 1] != ' ') cut--;
        if (cut > 0) cut--; /* the space goes with the choices */
        if (cut == 0 || cut >= l1 || cut >= l2) {
            ret = sx_failc(err, SX_ECORRUPT, "%s:%ld: the correct and wrong lines share no context", cp, line);
            break;
        }
        if (grow(items, *n, &cap)) {
            ret = sx_failc(err, SX_ENOMEM, "out of memory");
            break;
        }
        sx_mc_item *it = &(*items)[(*n)++];
        it->context = dupn(s1, cut);
        it->n_choices = 2;
        it->label = 0;
        it->choices = calloc(2, sizeof(char *));
        if (it->choices) it->choices[0] = dupn(s1 + cut, l1 - cut), it->choices[1] = dupn(s2 + cut, l2 - cut);
    }
    free(a);
    free(b);
    if (!ret && *n == 0) ret = sx_failc(err, SX_ENOTFOUND, "%s: no items", dir);
    return ret;
}

int sx_mc_load(const char *path, int64_t max, sx_mc_item **items, int64_t *n, sx_err *err) {
    *items = NULL;
    *n = 0;
    int rc = sx_is_dir(path) ? load_pairs(path, max, items, n, err) : load_jsonl(path, max, items, n, err);
    if (rc) {
        sx_mc_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

/* Context ids of an item: its encoding, or the BOS/EOS token alone when it encodes to nothing. */
static int encode_ctx(const sx_tokenizer *tok, const sx_mc_item *it, int64_t i, int32_t **ctx, int *nc, sx_err *err) {
    if (sx_tokenizer_encode(tok, it->context, strlen(it->context), 1, ctx, nc, err)) return -1;
    if (*nc > 0) return 0;
    int b = sx_tokenizer_bos(tok) >= 0 ? sx_tokenizer_bos(tok) : sx_tokenizer_eos(tok);
    free(*ctx);
    *ctx = NULL;
    if (b < 0) return sx_failc(err, SX_EINVAL, "benchmark item %lld: empty context and no BOS/EOS token", (long long)i + 1);
    if (!(*ctx = malloc(sizeof(int32_t)))) return sx_failc(err, SX_ENOMEM, "out of memory");
    (*ctx)[0] = b;
    *nc = 1;
    return 0;
}

int sx_mc_eval(sx_model *m, const sx_tokenizer *tok, const sx_mc_item *items, int64_t n,
               const sx_hook *hooks, int n_hooks, double *acc, double *acc_norm, sx_err *err) {
    return sx_mc_eval_opts(m, tok, items, n, hooks, n_hooks, 0, acc, acc_norm, err);
}

/* Every (item, choice) pair becomes one scoring item; the choices of an item point at the same
 * context ids (truncated alike when they have the same length), so sx_loglik_many prefills the
 * context once per item.  A choice that encodes to nothing scores -inf, as before. */
int sx_mc_eval_opts(sx_model *m, const sx_tokenizer *tok, const sx_mc_item *items, int64_t n,
                    const sx_hook *hooks, int n_hooks, int block_rows, double *acc, double *acc_norm, sx_err *err) {
    const int nctx = sx_model_cfg(m)->n_ctx;
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++) np += items[i].n_choices;
    int32_t **ctx = calloc((size_t)(n > 0 ? n : 1), sizeof(int32_t *));
    int32_t **ch = calloc((size_t)(np > 0 ? np : 1), sizeof(int32_t *));
    sx_loglik_item *li = malloc(sizeof(sx_loglik_item) * (size_t)(np > 0 ? np : 1));
    int64_t *pair = malloc(sizeof(int64_t) * (size_t)(np > 0 ? np : 1));
    double *lp = malloc(sizeof(double) * (size_t)(np > 0 ? np : 1));
    int rc = 0;
    if (!ctx || !ch || !li || !pair || !lp) rc = sx_failc(err, SX_ENOMEM, "out of memory for %lld benchmark items", (long long)n);
    int64_t q = 0, nl = 0;
    for (int64_t i = 0; !rc && i < n; i++) {
        const sx_mc_item *it = &items[i];
        int nc = 0;
        if (encode_ctx(tok, it, i, &ctx[i], &nc, err)) {
            rc = -1;
            break;
        }
        for (int c = 0; !rc && c < it->n_choices; c++, q++) {
            int nh = 0;
            if (sx_tokenizer_encode(tok, it->choices[c], strlen(it->choices[c]), 0, &ch[q], &nh, err)) {
                rc = -1;
                break;
            }
            lp[q] = -INFINITY;
            if (nh >= nctx) nh = nctx - 1;
            if (nh <= 0) continue;
            int keep = nctx - nh, cl = nc < keep ? nc : keep;
            li[nl] = (sx_loglik_item){ctx[i] + (nc - cl), cl, ch[q], nh};
            pair[nl++] = q;
        }
    }
    double *lv = rc || nl == 0 ? NULL : malloc(sizeof(double) * (size_t)nl);
    if (!rc && nl > 0 && !lv) rc = sx_failc(err, SX_ENOMEM, "out of memory");
    if (!rc && nl > 0) {
        if (block_rows < 0) {
            for (int64_t j = 0; !rc && j < nl; j++)
                rc = sx_loglik(m, li[j].ctx, li[j].n_ctx, li[j].cont, li[j].n_cont, hooks, n_hooks, &lv[j], err);
        } else {
            sx_batch_opts bo = {.block_rows = block_rows};
            rc = sx_loglik_many(m, li, nl, hooks, n_hooks, &bo, lv, err);
        }
        for (int64_t j = 0; !rc && j < nl; j++) lp[pair[j]] = lv[j];
    }
    int64_t right = 0, right_n = 0;
    q = 0;
    for (int64_t i = 0; !rc && i < n; i++) {
        const sx_mc_item *it = &items[i];
        double best = -INFINITY, best_n = -INFINITY;
        int arg = 0, arg_n = 0;
        for (int c = 0; c < it->n_choices; c++, q++) {
            double ln = lp[q] / (double)strlen(it->choices[c]);
            if (lp[q] > best) best = lp[q], arg = c;
            if (ln > best_n) best_n = ln, arg_n = c;
        }
        right += arg == it->label;
        right_n += arg_n == it->label;
    }
    if (!rc) {
        *acc = n ? (double)right / (double)n : NAN;
        *acc_norm = n ? (double)right_n / (double)n : NAN;
    }
    for (int64_t i = 0; ctx && i < n; i++) free(ctx[i]);
    for (int64_t j = 0; ch && j < np; j++) free(ch[j]);
    free(ctx), free(ch), free(li), free(pair), free(lp), free(lv);
    return rc ? -1 : 0;
}
