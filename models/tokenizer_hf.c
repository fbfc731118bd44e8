/* tokenizer_hf.c — loading a Hugging Face tokenizer.json: BPE model (vocab, merges as "a b"
 * strings or [a, b] pairs, byte_fallback, unk, fuse_unk, ignore_merges), added tokens,
 * normalizer (Replace / Prepend / Sequence), pre-tokenizer (none, or ByteLevel = GPT-2),
 * decoder (Replace / ByteFallback / Fuse / Strip / ByteLevel) and post-processor
 * (TemplateProcessing, Bert/Roberta) for the BOS/EOS added with special tokens.
 * Semantics follow transformers.js (the reference for our Gemma test). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "sx_json.h"

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jbool(const cJSON *o, const char *k) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ---------- vocabulary, merges, added tokens ---------- */
static int load_vocab(sx_tokenizer *t, const cJSON *vocab, const cJSON *added, const char *path,
                      sx_err *err) {
    if (!cJSON_IsObject(vocab)) return sx_failc(err, SX_ECORRUPT, "%s: model.vocab is not an object", path);
    /* The id table is sized by the largest id: bound ids by the number of tokens the file
     * names (vocabulary plus added tokens), so a small file cannot ask for gigabytes. */
    int64_t n_names = (int64_t)cJSON_GetArraySize(vocab) + (added ? cJSON_GetArraySize(added) : 0);
    int64_t max_id = -1, id;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (sx_json_int_of(e, 0, n_names - 1, &id))
            return sx_failc(err, SX_EINVAL, "%s: vocab entry \"%.60s\": id is not an integer in [0, %lld) "
                                "(the file names %lld tokens)", path, e->string,
                           (long long)n_names, (long long)n_names);
        if (id > max_id) max_id = id;
    }
    for (const cJSON *a = added ? added->child : NULL; a; a = a->next) {
        if (sx_json_int_of(cJSON_GetObjectItemCaseSensitive(a, "id"), 0, n_names - 1, &id) ||
            !jstr(a, "content"))
            return sx_failc(err, SX_ECORRUPT, "%s: an added_tokens entry lacks content or an integer id in "
                                "[0, %lld)", path, (long long)n_names);
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) return sx_failc(err, SX_EINVAL, "%s: empty vocabulary", path);
    if (tok_vocab_alloc(t, (int32_t)max_id + 1, err)) return -1;
    for (const cJSON *e = vocab->child; e; e = e->next)
        if (tok_vocab_add(t, e->string, strlen(e->string), e->valueint, err)) return -1;
    return 0;
}

static int add_merge(sx_tokenizer *t, const char *a, size_t la, const char *b, size_t lb,
                     int32_t rank, char **cat, size_t *catcap) {
    if (la + lb + 1 > *catcap) {
        char *nc = realloc(*cat, *catcap = (la + lb + 1) * 2);
        if (!nc) return -1;
        *cat = nc;
    }
    memcpy(*cat, a, la);
    memcpy(*cat + la, b, lb);
    int32_t ia = tok_strmap_get(&t->vocab, a, la), ib = tok_strmap_get(&t->vocab, b, lb);
    int32_t im = tok_strmap_get(&t->vocab, *cat, la + lb);
    /* A merge whose parts or result are not tokens could never produce a vocabulary id;
     * such entries do not occur in real files and are skipped. */
    if (ia < 0 || ib < 0 || im < 0) return 0;
    return tok_pairmap_put(&t->merges, ia, ib, rank, im);
}

static int load_merges(sx_tokenizer *t, const cJSON *merges, const char *path, sx_err *err) {
    if (!cJSON_IsArray(merges)) return sx_failc(err, SX_EINVAL, "%s: model.merges is not an array", path);
    if (tok_pairmap_init(&t->merges, (uint32_t)cJSON_GetArraySize(merges)))
        return sx_failc(err, SX_ENOMEM, "out of memory");
    char *cat = NULL;
    size_t catcap = 0;
    int32_t rank = 0;
    int rc = 0;
    for (const cJSON *m = merges->child; m && !rc; m = m->next, rank++) {
        if (cJSON_IsString(m)) {
            /* "a b": like JavaScript's split(" ", 2), b ends at a second space if any. */
            const char *s = m->valuestring, *sp = strchr(s, ' ');
            if (!sp) {
                rc = sx_failc(err, SX_ENOTFOUND, "%s: merge %d \"%.60s\" has no space", path, (int)rank, s);
                break;
            }
            const char *b = sp + 1, *e = strchr(b, ' ');
            if (add_merge(t, s, (size_t)(sp - s), b, e ? (size_t)(e - b) : strlen(b), rank,
                          &cat, &catcap))
                rc = sx_failc(err, SX_ENOMEM, "out of memory");
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 &&
                   cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
            const char *a = m->child->valuestring, *b = m->child->next->valuestring;
            if (add_merge(t, a, strlen(a), b, strlen(b), rank, &cat, &catcap))
                rc = sx_failc(err, SX_ENOMEM, "out of memory");
        } else {
            rc = sx_failc(err, SX_ECORRUPT, "%s: merge %d is neither \"a b\" nor [a, b]", path, (int)rank);
        }
    }
    free(cat);
    return rc ? -1 : 0;
}

static int cmp_added(const void *x, const void *y) {
    const tok_added *a = x, *b = y;
    unsigned char ca = (unsigned char)a->content[0], cb = (unsigned char)b->content[0];
    if (ca != cb) return ca < cb ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1; /* longest first */
    return strcmp(a->content, b->content);
}

static int load_added(sx_tokenizer *t, const cJSON *added, const char *path, sx_err *err) {
    t->is_added_id = calloc((size_t)t->n_vocab, 1);
    int n = cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0;
    t->added = calloc((size_t)(n ? n : 1), sizeof *t->added);
    if (!t->is_added_id || !t->added) return sx_failc(err, SX_ENOMEM, "out of memory");
    for (const cJSON *a = n ? added->child : NULL; a; a = a->next) {
        const char *c = jstr(a, "content");
        int32_t id = cJSON_GetObjectItemCaseSensitive(a, "id")->valueint;
        if (!*c) continue; /* an empty added token can never match */
        if (!t->id_str[id] && tok_vocab_add(t, c, strlen(c), id, err)) return -1;
        char *copy = tok_arena_strndup(&t->arena, c, strlen(c));
        if (!copy) return sx_failc(err, SX_ENOMEM, "out of memory");
        t->added[t->n_added++] = (tok_added){copy, (uint32_t)strlen(c), id, jbool(a, "lstrip"),
                                             jbool(a, "rstrip"), jbool(a, "special")};
        t->is_added_id[id] = 1;
    }
    qsort(t->added, (size_t)t->n_added, sizeof *t->added, cmp_added);
    for (int c = 0; c < 256; c++) t->added_first[c] = -1;
    for (int i = t->n_added - 1; i >= 0; i--)
        t->added_first[(unsigned char)t->added[i].content[0]] = i;
    (void)path;
    return 0;
}

/* ---------- normalizer / pre-tokenizer / decoder / post-processor ---------- */
static int load_normalizer(sx_tokenizer *t, const cJSON *n, const char *path, sx_err *err) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = jstr(n, "type");
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next)
            if (load_normalizer(t, c, path, err)) return -1;
        return 0;
    }
    if (t->n_norm == TOK_MAX_NORM) return sx_failc(err, SX_EINVAL, "%s: too many normalizers", path);
    tok_norm *o = &t->norm[t->n_norm];
    if (type && !strcmp(type, "Replace")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(n, "pattern");
        const char *from = jstr(pat, "String"), *to = jstr(n, "content");
        if (!from || !to || !*from)
            return sx_failc(err, SX_EINVAL, "%s: normalizer Replace: only a non-empty String pattern is "
                                "supported", path);
        *o = (tok_norm){TOK_NORM_REPLACE, from, to, strlen(from), strlen(to)};
    } else if (type && !strcmp(type, "Prepend")) {
        const char *p = jstr(n, "prepend");
        if (!p) return sx_failc(err, SX_ECORRUPT, "%s: normalizer Prepend without a string", path);
        *o = (tok_norm){TOK_NORM_PREPEND, NULL, p, 0, strlen(p)};
    } else {
        return sx_failc(err, SX_EUNSUPPORTED, "%s: normalizer type '%s' is not supported", path,
                       type ? type : "?");
    }
    /* The strings live in the cJSON tree, which is freed after loading: copy them. */
    if (o->from && !(o->from = tok_arena_strndup(&t->arena, o->from, o->from_len)))
        return sx_failc(err, SX_ENOMEM, "out of memory");
    if (!(o->to = tok_arena_strndup(&t->arena, o->to, o->to_len)))
        return sx_failc(err, SX_ENOMEM, "out of memory");
    t->n_norm++;
    return 0;
}

static int load_pretok(sx_tokenizer *t, const cJSON *p, const char *path, sx_err *err) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *type = jstr(p, "type");
    if (type && !strcmp(type, "ByteLevel")) {
        if (jbool(p, "add_prefix_space"))
            return sx_failc(err, SX_EINVAL, "%s: ByteLevel pre-tokenizer with add_prefix_space is not "
                                "supported", path);
        t->kind = TOK_GPT2; /* GPT-2's regex + byte-level alphabet */
        return 0;
    }
    return sx_failc(err, SX_EUNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported (only none or ByteLevel)",
                   path, type ? type : "?");
}

static int load_decoder(sx_tokenizer *t, const cJSON *d, const char *path, sx_err *err) {
    if (!d || cJSON_IsNull(d)) return 0;
    const char *type = jstr(d, "type");
    if (!type) return sx_failc(err, SX_ECORRUPT, "%s: decoder without a type", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "decoders");
        for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next)
            if (load_decoder(t, c, path, err)) return -1;
    } else if (!strcmp(type, "Replace")) {
        const char *from = jstr(cJSON_GetObjectItemCaseSensitive(d, "pattern"), "String");
        const char *to = jstr(d, "content");
        if (!from || !to || !*from)
            return sx_failc(err, SX_EUNSUPPORTED, "%s: decoder Replace: only a String pattern is supported", path);
        t->dec_from = tok_arena_strndup(&t->arena, from, strlen(from));
        t->dec_to = tok_arena_strndup(&t->arena, to, strlen(to));
        if (!t->dec_from || !t->dec_to) return sx_failc(err, SX_ENOMEM, "out of memory");
    } else if (!strcmp(type, "Strip")) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "start");
        int64_t n = 0;
        if (s && sx_json_int_of(s, 0, 1 << 20, &n))
            return sx_failc(err, SX_EINVAL, "%s: decoder Strip: 'start' is not a small non-negative integer", path);
        t->dec_strip_left = (int)n;
    } else if (strcmp(type, "ByteFallback") && strcmp(type, "Fuse") &&
               strcmp(type, "ByteLevel")) {
        return sx_failc(err, SX_EUNSUPPORTED, "%s: decoder type '%s' is not supported", path, type);
    }
    return 0;
}

/* The id a post-processor names, or -1 when it is unknown or not a vocabulary id: prefix and
 * suffix ids are emitted as they are, so they must index the vocabulary. */
static int special_id(const sx_tokenizer *t, const cJSON *pp, const char *name) {
    /* TemplateProcessing names a token; its "special_tokens" map gives the ids. */
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(st, name), "ids");
    if (cJSON_IsArray(ids) && ids->child) {
        int64_t id;
        return sx_json_int_of(ids->child, 0, t->n_vocab - 1, &id) ? -1 : (int)id;
    }
    return tok_strmap_get(&t->vocab, name, strlen(name));
}

/* cls / sep of Bert/RobertaProcessing: ["token", id]. */
static int pair_id(const sx_tokenizer *t, const cJSON *pair) {
    int64_t id;
    return sx_json_int_of(cJSON_GetArrayItem(pair, 1), 0, t->n_vocab - 1, &id) ? -1 : (int)id;
}

static int load_post(sx_tokenizer *t, const cJSON *pp, const char *path, sx_err *err) {
    if (!pp || cJSON_IsNull(pp)) return 0;
    const char *type = jstr(pp, "type");
    if (!type) return sx_failc(err, SX_ECORRUPT, "%s: post_processor without a type", path);
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next)
            if (load_post(t, c, path, err)) return -1;
    } else if (!strcmp(type, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        int after = 0;
        t->n_prefix = t->n_suffix = 0;
        for (const cJSON *e = cJSON_IsArray(single) ? single->child : NULL; e; e = e->next) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
            if (!sp) {
                after = 1; /* {"Sequence": {"id": "A"}} */
                continue;
            }
            const char *name = jstr(sp, "id");
            int id = name ? special_id(t, pp, name) : -1;
            if (id < 0)
                return sx_failc(err, SX_EINVAL, "%s: post_processor token %.60s is unknown or its id is not "
                                    "in [0, %d)", path, name ? name : "?", (int)t->n_vocab);
            if ((after ? t->n_suffix : t->n_prefix) == TOK_MAX_AFFIX)
                return sx_failc(err, SX_EINVAL, "%s: post_processor adds too many tokens", path);
            if (after) t->suffix[t->n_suffix++] = id;
            else t->prefix[t->n_prefix++] = id;
        }
    } else if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(pp, "cls");
        const cJSON *sep = cJSON_GetObjectItemCaseSensitive(pp, "sep");
        if (!cJSON_IsArray(cls) || !cJSON_IsArray(sep) || cJSON_GetArraySize(cls) != 2 ||
            cJSON_GetArraySize(sep) != 2)
            return sx_failc(err, SX_EINVAL, "%s: %s needs cls and sep pairs", path, type);
        t->prefix[0] = pair_id(t, cls);
        t->suffix[0] = pair_id(t, sep);
        if (t->prefix[0] < 0 || t->suffix[0] < 0)
            return sx_failc(err, SX_EINVAL, "%s: %s cls/sep id is not an integer in [0, %d)", path, type,
                           (int)t->n_vocab);
        t->n_prefix = t->n_suffix = 1;
    } else if (strcmp(type, "ByteLevel")) {
        return sx_failc(err, SX_EUNSUPPORTED, "%s: post_processor type '%s' is not supported", path, type);
    }
    return 0;
}

static int32_t first_token(const sx_tokenizer *t, const char *const *names) {
    for (; *names; names++) {
        int32_t id = tok_strmap_get(&t->vocab, *names, strlen(*names));
        if (id >= 0) return id;
    }
    return -1;
}

/* ---------- the model ---------- */
static int load_model(sx_tokenizer *t, const cJSON *root, const char *path, sx_err *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = jstr(model, "type");
    if (!cJSON_IsObject(model)) return sx_failc(err, SX_ECORRUPT, "%s: no \"model\" object", path);
    if (type ? strcmp(type, "BPE") != 0 : !cJSON_GetObjectItemCaseSensitive(model, "merges"))
        return sx_failc(err, SX_EUNSUPPORTED, "%s: model type '%s' is not supported (only BPE)", path,
                       type ? type : "?");
    const char *cs = jstr(model, "continuing_subword_prefix"), *ew = jstr(model, "end_of_word_suffix");
    if ((cs && *cs) || (ew && *ew))
        return sx_failc(err, SX_EUNSUPPORTED, "%s: BPE continuing_subword_prefix / end_of_word_suffix are not "
                            "supported", path);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsArray(added)) return sx_failc(err, SX_EINVAL, "%s: added_tokens is not an array", path);
    if (load_vocab(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), added, path, err) ||
        load_merges(t, cJSON_GetObjectItemCaseSensitive(model, "merges"), path, err) ||
        load_added(t, added, path, err))
        return -1;
    t->byte_fallback = jbool(model, "byte_fallback");
    t->fuse_unk = jbool(model, "fuse_unk");
    t->ignore_merges = jbool(model, "ignore_merges");
    const char *unk = jstr(model, "unk_token");
    t->unk = unk ? tok_strmap_get(&t->vocab, unk, strlen(unk)) : -1;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->fallback_id[b] = tok_strmap_get(&t->vocab, name, 6);
    }
    return 0;
}

/* Direct lookup for characters of the Basic Multilingual Plane: the BPE's initial symbols
 * then cost one array read instead of a hash probe. */
static int build_char_table(sx_tokenizer *t) {
    t->char_id = malloc(0x10000 * sizeof *t->char_id);
    if (!t->char_id) return -1;
    for (int c = 0; c < 0x10000; c++) t->char_id[c] = -1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->id_str[id];
        uint32_t cp;
        if (!s || !t->id_len[id] || t->id_len[id] > 3) continue;
        if ((uint32_t)tok_utf8_next((const unsigned char *)s, t->id_len[id], &cp) == t->id_len[id] &&
            cp < 0x10000)
            t->char_id[cp] = tok_strmap_get(&t->vocab, s, t->id_len[id]);
    }
    return 0;
}

int tok_hf_load(sx_tokenizer *t, const char *dir, const char *json_path, sx_err *err) {
    (void)dir;
    t->kind = TOK_HF;
    cJSON *root = sx_json_parse_file(json_path, (size_t)1 << 30, err);
    if (!root) return -1;
    static const char *const bos_names[] = {"<bos>", "<s>", "<|begin_of_text|>",
                                             "<|endoftext|>", NULL};
    static const char *const eos_names[] = {"<eos>", "</s>", "<|endoftext|>", "<|end_of_text|>", NULL};
    int rc = load_model(t, root, json_path, err) ||
             load_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), json_path, err) ||
             load_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), json_path, err) ||
             load_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), json_path, err) ||
             load_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), json_path, err);
    cJSON_Delete(root);
    if (rc) return -1;
    if (t->kind == TOK_GPT2) {
        if (t->n_norm) return sx_failc(err, SX_EUNSUPPORTED, "%s: normalizers with ByteLevel are not supported", json_path);
        tok_gpt2_init_bytes(t);
        if (tok_gpt2_finish(t, json_path, err)) return -1;
    }
    if (build_char_table(t)) return sx_failc(err, SX_ENOMEM, "out of memory");
    int32_t b = first_token(t, bos_names);
    if (b >= 0) t->bos = b;
    b = first_token(t, eos_names);
    if (b >= 0) t->eos = b;
    return 0;
}
