/* tokenizer.c — the public tokenizer API: finding the files, tokenizer_config.json (BOS/EOS),
 * and dispatch to the GPT-2 byte-level or the tokenizer.json implementation. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "sx_json.h"

/* "bos_token": "<bos>" or {"content": "<bos>", ...} */
static const char *config_token(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsObject(v)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

static int32_t lookup(const sx_tokenizer *t, const char *s) {
    return s ? tok_strmap_get(&t->vocab, s, strlen(s)) : -1;
}

/* tokenizer_config.json, when present, names BOS/EOS and says whether they are added; it
 * overrides a tokenizer.json post-processor, as Hugging Face's Llama/Gemma tokenizers do. */
static int apply_config(sx_tokenizer *t, const char *dir, sx_err *err) {
    char path[4096];
    if (sx_path_join(path, sizeof path, dir, "tokenizer_config.json"))
        return sx_failc(err, SX_EINVAL, "%s: path too long", dir);
    if (!sx_file_exists(path)) return 0;
    cJSON *cfg = sx_json_parse_file(path, (size_t)1 << 26, err);
    if (!cfg) return -1;
    int32_t b = lookup(t, config_token(cfg, "bos_token"));
    int32_t e = lookup(t, config_token(cfg, "eos_token"));
    if (b >= 0) t->bos = b;
    if (e >= 0) t->eos = e;
    int add_bos = -1, add_eos = -1, rc = 0;
    if (sx_json_bool(cfg, "add_bos_token", &add_bos, path, err) < 0 ||
        sx_json_bool(cfg, "add_eos_token", &add_eos, path, err) < 0)
        rc = -1;
    if (!rc && add_bos == 1 && t->bos < 0)
        rc = sx_failc(err, SX_ECORRUPT, "%s: add_bos_token is true but there is no BOS token", path);
    if (!rc && add_eos == 1 && t->eos < 0)
        rc = sx_failc(err, SX_ECORRUPT, "%s: add_eos_token is true but there is no EOS token", path);
    if (!rc && add_bos >= 0) {
        t->n_prefix = 0;
        if (add_bos) t->prefix[t->n_prefix++] = t->bos;
    }
    if (!rc && add_eos >= 0) {
        t->n_suffix = 0;
        if (add_eos) t->suffix[t->n_suffix++] = t->eos;
    }
    cJSON_Delete(cfg);
    return rc;
}

static int find_pair(const char *dir, const char *a, const char *b, char *pa, char *pb) {
    return !sx_path_join(pa, 4096, dir, a) && !sx_path_join(pb, 4096, dir, b) &&
           sx_file_exists(pa) && sx_file_exists(pb);
}

int sx_tokenizer_load(const char *dir, sx_tokenizer **out, sx_err *err) {
    *out = NULL;
    if (!dir || !sx_is_dir(dir))
        return sx_failc(err, SX_ENOTFOUND, "%s: tokenizer directory not found", dir ? dir : "(null)");
    sx_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return sx_failc(err, SX_ENOMEM, "out of memory");
    t->bos = t->eos = t->unk = -1;
    char p1[4096], p2[4096];
    int rc;
    if (!sx_path_join(p1, sizeof p1, dir, "tokenizer.json") && sx_file_exists(p1))
        rc = tok_hf_load(t, dir, p1, err);
    else if (find_pair(dir, "vocab.json", "merges.txt", p1, p2) ||
             find_pair(dir, "encoder.json", "vocab.bpe", p1, p2))
        rc = tok_gpt2_load_files(t, p1, p2, err);
    else
        rc = sx_failc(err, SX_EINVAL, "%s: no tokenizer files (expected tokenizer.json, vocab.json + "
                          "merges.txt, or encoder.json + vocab.bpe)", dir);
    if (!rc) rc = apply_config(t, dir, err);
    if (rc) {
        sx_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void sx_tokenizer_free(sx_tokenizer *t) {
    if (!t) return;
    tok_arena_free(&t->arena);
    free(t->id_str);
    free(t->id_len);
    tok_strmap_free(&t->vocab);
    tok_pairmap_free(&t->merges);
    free(t->added);
    free(t->is_added_id);
    free(t->char_id);
    free(t);
}

int sx_tokenizer_encode(const sx_tokenizer *t, const char *text, size_t len, int add_special,
                        int32_t **ids, int *n_ids, sx_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!text && len) return sx_failc(err, SX_EINVAL, "encode: NULL text");
    tok_ids out = {0};
    int rc = 0;
    for (int i = 0; add_special && i < t->n_prefix && !rc; i++)
        rc = tok_ids_push(&out, t->prefix[i]);
    if (!rc) {
        size_t before = out.n;
        rc = t->kind == TOK_HF || t->n_added ? tok_hf_encode(t, text, len, &out, err)
                                             : tok_gpt2_encode(t, text, len, &out, err);
        if (!rc && out.n - before > (size_t)INT32_MAX / 2)
            rc = sx_failc(err, SX_EINVAL, "encode: text too long (%zu tokens)", out.n - before);
    } else {
        sx_failc(err, SX_ENOMEM, "out of memory");
    }
    for (int i = 0; add_special && i < t->n_suffix && !rc; i++)
        if (tok_ids_push(&out, t->suffix[i])) rc = sx_failc(err, SX_ENOMEM, "out of memory");
    if (rc) {
        free(out.v);
        return -1;
    }
    if (!out.v) out.v = malloc(sizeof(int32_t)); /* a valid pointer even for zero ids */
    if (!out.v) return sx_failc(err, SX_ENOMEM, "out of memory");
    *ids = out.v;
    *n_ids = (int)out.n;
    return 0;
}

int sx_tokenizer_decode(const sx_tokenizer *t, const int32_t *ids, int n_ids, char **text,
                        size_t *len, sx_err *err) {
    size_t dummy;
    if (!len) len = &dummy;
    *text = NULL;
    *len = 0;
    if (n_ids < 0 || (!ids && n_ids)) return sx_failc(err, SX_EINVAL, "decode: bad id array");
    return t->kind == TOK_HF ? tok_hf_decode(t, ids, n_ids, text, len, err)
                             : tok_gpt2_decode(t, ids, n_ids, text, len, err);
}

const char *sx_tokenizer_token_str(const sx_tokenizer *t, int id) {
    return id >= 0 && id < t->n_vocab ? t->id_str[id] : NULL;
}

int sx_tokenizer_token_id(const sx_tokenizer *t, const char *token_str) {
    return token_str ? tok_strmap_get(&t->vocab, token_str, strlen(token_str)) : -1;
}

int sx_tokenizer_vocab_size(const sx_tokenizer *t) { return t->n_vocab; }
int sx_tokenizer_bos(const sx_tokenizer *t) { return t->bos; }
int sx_tokenizer_eos(const sx_tokenizer *t) { return t->eos; }

int sx_tokenizer_adds_bos(const sx_tokenizer *t) {
    for (int i = 0; i < t->n_prefix; i++)
        if (t->prefix[i] == t->bos) return 1;
    return 0;
}

int sx_tokenizer_is_special(const sx_tokenizer *t, int id) {
    if (id < 0 || id >= t->n_vocab) return 0;
    if (t->is_added_id) return t->is_added_id[id];
    return id == t->eos && t->kind == TOK_GPT2;
}

int sx_tokenizer_token_display(const sx_tokenizer *t, int id, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    if (!t || id < 0 || id >= t->n_vocab || !t->id_str[id]) return -1;
    size_t k = 0; /* bytes the full rendering needs; written while they fit */
#define PUT(str, n)                                                   \
    do {                                                              \
        size_t n_ = (n);                                              \
        if (k + n_ < cap) memcpy(buf + k, (str), n_), buf[k + n_] = 0; \
        else if (cap && k < cap) buf[k] = 0, cap = k + 1; /* stop writing */ \
        k += n_;                                                      \
    } while (0)
    if (sx_tokenizer_is_special(t, id)) {
        /* one token, spelled as the vocabulary has it: "<|endoftext|>", "<bos>" */
        PUT(t->id_str[id], strlen(t->id_str[id]));
        return (int)k;
    }
    char *raw = NULL;
    size_t len = 0;
    if (sx_tokenizer_decode(t, &id, 1, &raw, &len, NULL)) return -1;
    const unsigned char *s = (const unsigned char *)raw;
    int leading = 1;
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        char esc[8];
        if (c == ' ' && leading) { PUT("\xE2\x90\xA3", 3); i++; continue; } /* U+2423 OPEN BOX */
        leading = 0;
        size_t w = sx_utf8_whole(s + i, len - i);
        if (c == '\\') PUT("\\\\", 2);
        else if (c == '\n') PUT("\\n", 2);
        else if (c == '\t') PUT("\\t", 2);
        else if (c == '\r') PUT("\\r", 2);
        else if (w == 3 && !memcmp(s + i, "\xE2\x90\xA3", 3)) PUT("\\u2423", 6); /* a literal mark */
        else if (w && (c >= 0x20 && c != 0x7f)) { PUT(raw + i, w); i += w; continue; }
        else { snprintf(esc, sizeof esc, "\\x%02x", c); PUT(esc, 4); }
        i++;
    }
#undef PUT
    free(raw);
    return (int)k;
}
