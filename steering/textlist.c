/* textlist.c — plain lists of texts for prompts and for the toxic / clean sets behind the
 * mean-difference vector and the latent scales: any SOURCE of io.h (jsonl:F#field, csv:...,
 * archives), or by extension: .txt (one per line), .jsonl (a field, by
 * default prompt.text / prompt / text / context) and .csv (a column, by default text or
 * tweet; parsed through the labelled-data CSV reader's rules).  Also the word list of the
 * banned-token baseline. */
#include "io.h"
#include "steering.h"
#include "sx_json.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sx_textlist_free(sx_textlist *t) {
    for (int64_t i = 0; i < t->n; i++) free(t->text[i]);
    free(t->text);
    free(t->score);
    memset(t, 0, sizeof *t);
}

static int push(sx_textlist *t, int64_t *cap, const char *s, size_t len, double score, sx_err *err) {
    if (t->n == *cap) {
        int64_t nc = *cap ? *cap * 2 : 256;
        char **nt = realloc(t->text, sizeof(char *) * (size_t)nc);
        double *ns = nt ? realloc(t->score, sizeof(double) * (size_t)nc) : NULL;
        if (nt) t->text = nt;
        if (!ns) return sx_failc(err, SX_ENOMEM, "out of memory reading texts");
        t->score = ns;
        *cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c) return sx_failc(err, SX_ENOMEM, "out of memory reading texts");
    memcpy(c, s, len);
    c[len] = 0;
    t->text[t->n] = c;
    t->score[t->n] = score;
    t->n++;
    return 0;
}

static int jsonl_text(const cJSON *j, const char *field, const char **text, double *score) {
    const cJSON *t = NULL;
    *score = NAN;
    if (field) {
        t = sx_json_path(j, field);
    } else {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt");
        if (cJSON_IsObject(p)) {
            t = cJSON_GetObjectItemCaseSensitive(p, "text");
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "toxicity");
            if (cJSON_IsNumber(s)) *score = s->valuedouble;
        } else if (cJSON_IsString(p)) {
            t = p;
        }
        if (!t) t = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!t) t = cJSON_GetObjectItemCaseSensitive(j, "context");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "toxicity");
        if (cJSON_IsNumber(s)) *score = s->valuedouble;
    }
    if (!cJSON_IsString(t)) return -1;
    *text = t->valuestring;
    return 0;
}

static int load_source(const char *spec, int64_t max, sx_textlist *out, sx_err *err);

/* ret < 0: free and fail; no texts: fail with "name: what". */
static int finish(sx_textlist *out, int ret, const char *name, const char *what, sx_err *err) {
    if (ret < 0) {
        sx_textlist_free(out);
        return -1;
    }
    if (!out->n) return sx_fail(err, "%s: %s", name, what);
    return 0;
}

int sx_textlist_load(const char *spec, int64_t max, sx_textlist *out, sx_err *err) {
    memset(out, 0, sizeof *out);
    if (sx_source_is_spec(spec)) return load_source(spec, max, out, err);
    char path[4096];
    snprintf(path, sizeof path, "%s", spec);
    char *hash = strrchr(path, '#');
    const char *field = NULL;
    if (hash && !strchr(hash, '/')) {
        *hash = 0;
        field = hash + 1;
    }
    size_t pl = strlen(path);
    if (pl > 4 && !strcmp(path + pl - 4, ".csv")) {
        /* reuse the labelled reader for RFC 4180 parsing (text/tweet column) */
        sx_labelled d = {0};
        char s2[4200];
        snprintf(s2, sizeof s2, "csv:%s", path);
        if (sx_labelled_load(&d, s2, err)) {
            sx_labelled_free(&d);
            return -1;
        }
        int64_t cap = 0;
        for (int64_t i = 0; i < d.n && (max <= 0 || out->n < max); i++)
            if (d.text[i][0] && push(out, &cap, d.text[i], strlen(d.text[i]), d.score[i], err)) {
                sx_labelled_free(&d);
                sx_textlist_free(out);
                return -1;
            }
        sx_labelled_free(&d);
        if (!out->n) return sx_failc(err, SX_ENOTFOUND, "%s: no texts", path);
        return 0;
    }
    int jsonl = pl > 6 && (!strcmp(path + pl - 6, ".jsonl") || !strcmp(path + pl - 5, ".json"));
    int64_t cap = 0;
    int ret = 0;
    if (jsonl) { /* io's JSONL reader */
        sx_jsonl_reader *jr;
        if (sx_jsonl_open(path, &jr, err)) return -1;
        cJSON *j;
        while (!ret && (max <= 0 || out->n < max) && (ret = sx_jsonl_next(jr, &j, err)) == 1) {
            const char *t;
            double sc;
            ret = 0;
            if (jsonl_text(j, field, &t, &sc))
                ret = sx_fail(err, "%s: no text field (%s)", sx_jsonl_where(jr),
                              field ? field : "prompt.text, prompt, text or context");
            else if (*t)
                ret = push(out, &cap, t, strlen(t), sc, err);
            cJSON_Delete(j);
        }
        sx_jsonl_close(jr);
    } else { /* one text per line */
        char *buf;
        size_t len;
        if (sx_read_file(path, (size_t)1 << 32, &buf, &len, err)) return -1;
        for (char *p = buf; p < buf + len && !ret && (max <= 0 || out->n < max);) {
            char *nl = memchr(p, '\n', (size_t)(buf + len - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
            char *q = p;
            p += l + 1;
            while (l && (q[l - 1] == '\r')) l--;
            if (l) ret = push(out, &cap, q, l, NAN, err);
        }
        free(buf);
    }
    return finish(out, ret, path, "no texts (empty file)", err);
}

/* SOURCE syntax (io.h): every document, up to max. */
static int load_source(const char *spec, int64_t max, sx_textlist *out, sx_err *err) {
    sx_text_source *src;
    if (sx_source_open(spec, NULL, &src, err)) return -1;
    int64_t cap = 0;
    sx_doc d;
    int r = 0;
    while ((max <= 0 || out->n < max) && (r = sx_source_next(src, &d, err)) == 1)
        if (push(out, &cap, d.text, d.len, d.score, err)) {
            r = -1;
            break;
        }
    sx_source_close(src);
    return finish(out, r, spec, "no texts", err);
}

/* A small built-in English profanity / slur-adjacent insult list for the banned-token
 * baseline (the usual "bad words" filter); --ban-words FILE replaces it. */
static const char *BUILTIN_BAN[] = {
    "fuck", "fucking", "fucked", "fucker", "shit", "shitty", "bullshit", "bitch", "bitches",
    "bastard", "asshole", "ass", "dick", "dickhead", "cock", "cunt", "pussy", "whore", "slut",
    "damn", "crap", "piss", "idiot", "idiots", "stupid", "moron", "dumb", "retard", "retarded",
    "loser", "suck", "sucks", "hell", "jerk", "hate", "kill", "die", "ugly", "fat", "nigger",
    "nigga", "faggot", "fag", "motherfucker", "wanker", "twat", "prick", "douche", "scum"};

int sx_banned_ids(const sx_tokenizer *tok, const char *path, int **ids, int *n, sx_err *err) {
    char *buf = NULL;
    size_t len = 0;
    if (path && sx_read_file(path, (size_t)1 << 26, &buf, &len, err)) return -1;
    int cap = 256, cnt = 0;
    int *v = malloc(sizeof(int) * (size_t)cap);
    if (!v) {
        free(buf);
        return sx_failc(err, SX_ENOMEM, "out of memory");
    }
    int nwords = 0;
    const char *p = buf;
    for (size_t wi = 0;; wi++) {
        char word[256];
        if (path) {
            if (!p || p >= buf + len) break;
            const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
            const char *q = p;
            p += l + 1;
            while (l && isspace((unsigned char)q[l - 1])) l--;
            while (l && isspace((unsigned char)*q)) q++, l--;
            if (!l || *q == '#') continue;
            if (l > 200) l = 200;
            memcpy(word, q, l);
            word[l] = 0;
        } else {
            if (wi >= sizeof BUILTIN_BAN / sizeof BUILTIN_BAN[0]) break;
            snprintf(word, sizeof word, "%s", BUILTIN_BAN[wi]);
        }
        nwords++;
        /* variants: word, " word", "Word", " Word" */
        for (int var = 0; var < 4; var++) {
            char w[260];
            snprintf(w, sizeof w, "%s%s", (var & 1) ? " " : "", word);
            if (var & 2) w[(var & 1)] = (char)toupper((unsigned char)w[(var & 1)]);
            int32_t *t = NULL;
            int nt = 0;
            if (sx_tokenizer_encode(tok, w, strlen(w), 0, &t, &nt, err)) {
                free(v);
                free(buf);
                return -1;
            }
            /* single-token words are banned outright; a multi-token word bans its first
             * token only if that token is the whole alphabetic stem (never e.g. " f") */
            if (nt == 1) {
                int dup = 0;
                for (int k = 0; k < cnt && !dup; k++) dup = v[k] == t[0];
                if (!dup) {
                    if (cnt == cap) {
                        int *nv = realloc(v, sizeof(int) * (size_t)(cap *= 2));
                        if (!nv) {
                            free(t);
                            free(v);
                            free(buf);
                            return sx_failc(err, SX_ENOMEM, "out of memory");
                        }
                        v = nv;
                    }
                    v[cnt++] = t[0];
                }
            }
            free(t);
        }
    }
    free(buf);
    if (path && nwords == 0) {
        free(v);
        return sx_fail(err, "%s: no words in the ban list", path);
    }
    *ids = v;
    *n = cnt;
    return 0;
}
