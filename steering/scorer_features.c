/* scorer_features.c — text normalisation and signed feature hashing for the toxicity scorer.
 *
 * Normalisation (feature version 1), chosen because the training data mixes tweets (HTML
 * entities, @mentions, URLs, "RT", elongated and obfuscated swear words) with web text:
 *   - HTML entities decoded by io's sx_html_entity (named, &#NNN;, &#xHH;), a non-ASCII
 *     one (&nbsp; included) as a space (SX_HTML_ASCII); URLs -> "url"; @mentions and
 *     the retweet marker "rt" dropped (they carry dataset artefacts, not toxicity);
 *   - ASCII lowercased; typographic apostrophes -> '; other general punctuation -> space;
 *     other non-ASCII bytes kept as word characters;
 *   - inside a word that has a letter: leetspeak 0->o 1->i 3->e 4->a 5->s 7->t @->a $->s;
 *     '*' kept inside words (f*ck); runs of 3+ equal characters cut to 2 (fuuuck -> fuuck).
 * Features: word unigrams and bigrams, character n-grams (char_min..char_max) of "<word>",
 * each hashed (FNV-1a + a 64-bit finaliser, a namespace per kind) to a bucket with a sign
 * from the top hash bit; counts summed per bucket, then the vector is L2-normalised so that
 * long and short texts live on the same scale. */
#include "io.h"
#include "steering.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORD 40

static uint64_t fnv_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t fmix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t ns_seed(int ns) { return 0xcbf29ce484222325ULL ^ ((uint64_t)ns * 0x9E3779B97F4A7C15ULL); }

static int is_alnum_ascii(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Pass 1: bytes -> lowercased text where word characters are kept and everything else is a
 * single space.  Word characters: [a-z0-9'*$@] and non-ASCII bytes. */
static size_t pass1(const char *in, size_t len, char *out) {
    size_t o = 0;
    int prev_word = 0;
#define EMIT(ch) (out[o++] = (ch), prev_word = (ch) != ' ')
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)in[i];
        if (c == '&') {
            uint32_t cp;
            size_t k = sx_html_entity(in + i, len - i, &cp);
            if (k) {
                /* the io decoder's SX_HTML_ASCII policy: a non-ASCII code point (&nbsp; too)
                 * is a space */
                char r = cp < 0x80 ? (char)cp : ' ';
                /* decoded punctuation is a separator; a decoded letter joins the word */
                if (is_alnum_ascii((unsigned char)r) || r == '\'') EMIT((char)(r | ((r >= 'A' && r <= 'Z') ? 0x20 : 0)));
                else if (prev_word) EMIT(' ');
                i += k;
                continue;
            }
        }
        if (!prev_word && c == '@' && i + 1 < len && is_alnum_ascii((unsigned char)in[i + 1])) {
            i++; /* @mention: drop */
            while (i < len && is_alnum_ascii((unsigned char)in[i])) i++;
            continue;
        }
        if (!prev_word && (c == 'h' || c == 'H' || c == 'w' || c == 'W') &&
            ((len - i >= 7 && strncasecmp(in + i, "http://", 7) == 0) ||
             (len - i >= 8 && strncasecmp(in + i, "https://", 8) == 0) ||
             (len - i >= 4 && strncasecmp(in + i, "www.", 4) == 0))) {
            while (i < len && !(in[i] == ' ' || in[i] == '\n' || in[i] == '\t' || in[i] == '\r')) i++;
            memcpy(out + o, "url ", 4);
            o += 4;
            prev_word = 0;
            continue;
        }
        if (c == 0xE2 && i + 2 < len && (unsigned char)in[i + 1] == 0x80) {
            unsigned char c3 = (unsigned char)in[i + 2];
            if (c3 == 0x98 || c3 == 0x99) EMIT('\'');
            else if (prev_word) EMIT(' ');
            i += 3;
            continue;
        }
        if (c >= 'A' && c <= 'Z') EMIT((char)(c + 32));
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c == '*' ||
                 c == '$' || c == '@' || c >= 0x80)
            EMIT((char)c);
        else if (prev_word)
            EMIT(' ');
        i++;
    }
#undef EMIT
    return o;
}

static int has_letter(const char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((w[i] >= 'a' && w[i] <= 'z') || (unsigned char)w[i] >= 0x80) return 1;
    return 0;
}

/* Pass 2 on one word: trim quote/star edges, leetspeak, squeeze runs.  Returns new length. */
static size_t clean_word(char *w, size_t n) {
    size_t a = 0, b = n;
    while (a < b && (w[a] == '\'' || w[a] == '*')) a++;
    while (b > a && (w[b - 1] == '\'' || w[b - 1] == '*')) b--;
    if (b - a >= 2 && w[b - 2] == '\'' && w[b - 1] == 's') b -= 2; /* possessive 's */
    int letters = has_letter(w + a, b - a);
    size_t o = 0;
    for (size_t i = a; i < b; i++) {
        char c = w[i];
        if (letters) {
            switch (c) {
            case '0': c = 'o'; break;
            case '1': c = 'i'; break;
            case '3': c = 'e'; break;
            case '4': c = 'a'; break;
            case '5': c = 's'; break;
            case '7': c = 't'; break;
            case '@': c = 'a'; break;
            case '$': c = 's'; break;
            default: break;
            }
        } else if (c == '@' || c == '$') {
            continue;
        }
        if (o >= 2 && w[o - 1] == c && w[o - 2] == c) continue;
        w[o++] = c;
    }
    return o > MAX_WORD ? MAX_WORD : o;
}

/* Tokenise into words (pointers into buf); returns count. */
static int tokenise(char *buf, size_t n, char **words, int *lens, int max_words) {
    int nw = 0;
    size_t i = 0;
    while (i < n && nw < max_words) {
        while (i < n && buf[i] == ' ') i++;
        size_t s = i;
        while (i < n && buf[i] != ' ') i++;
        if (i == s) break;
        size_t l = clean_word(buf + s, i - s);
        if (l == 0 || (l == 2 && buf[s] == 'r' && buf[s + 1] == 't')) continue;
        words[nw] = buf + s;
        lens[nw] = (int)l;
        nw++;
    }
    return nw;
}

char *sx_scorer_normalise(const char *text, size_t len) {
    char *buf = malloc(len * 1 + 8), *out = malloc(len + 8);
    if (!buf || !out) {
        free(buf);
        free(out);
        return NULL;
    }
    size_t n = pass1(text, len, buf);
    int maxw = (int)(n / 2 + 2);
    char **words = malloc(sizeof(char *) * (size_t)maxw);
    int *lens = malloc(sizeof(int) * (size_t)maxw);
    size_t o = 0;
    if (words && lens) {
        int nw = tokenise(buf, n, words, lens, maxw);
        for (int i = 0; i < nw; i++) {
            if (o) out[o++] = ' ';
            memcpy(out + o, words[i], (size_t)lens[i]);
            o += (size_t)lens[i];
        }
    }
    out[o] = 0;
    free(words);
    free(lens);
    free(buf);
    return out;
}

static int push(sx_feats *f, uint64_t h, int log2b) {
    if (f->n == f->cap) {
        int nc = f->cap ? f->cap * 2 : 256;
        uint32_t *ni = realloc(f->idx, sizeof(uint32_t) * (size_t)nc);
        if (!ni) return -1;
        f->idx = ni;
        float *nv = realloc(f->val, sizeof(float) * (size_t)nc);
        if (!nv) return -1;
        f->val = nv;
        f->cap = nc;
    }
    h = fmix(h);
    f->idx[f->n] = (uint32_t)(h & ((1ULL << log2b) - 1));
    f->val[f->n] = (h >> 63) ? -1.0f : 1.0f;
    f->n++;
    return 0;
}

static int cmp_pair(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sort by index, sum duplicates, drop zeros, L2-normalise. */
static int finish(sx_feats *f) {
    if (f->n == 0) return 0;
    /* pack (idx, sign) into u64 keys for one qsort */
    uint64_t *k = malloc(sizeof(uint64_t) * (size_t)f->n);
    if (!k) return -1;
    for (int i = 0; i < f->n; i++) k[i] = ((uint64_t)f->idx[i] << 1) | (f->val[i] < 0);
    qsort(k, (size_t)f->n, sizeof *k, cmp_pair);
    int o = 0;
    for (int i = 0; i < f->n;) {
        uint32_t id = (uint32_t)(k[i] >> 1);
        float v = 0;
        while (i < f->n && (uint32_t)(k[i] >> 1) == id) v += (k[i++] & 1) ? -1.0f : 1.0f;
        if (v != 0) {
            f->idx[o] = id;
            f->val[o] = v;
            o++;
        }
    }
    free(k);
    f->n = o;
    double ss = 0;
    for (int i = 0; i < o; i++) ss += (double)f->val[i] * f->val[i];
    if (ss > 0) {
        float inv = (float)(1.0 / sqrt(ss));
        for (int i = 0; i < o; i++) f->val[i] *= inv;
    }
    return 0;
}

int sx_scorer_features(const sx_scorer_cfg *cfg, const char *text, size_t len, sx_feats *f) {
    f->n = 0;
    char *buf = malloc(len + 8);
    if (!buf) return -1;
    size_t n = pass1(text, len, buf);
    int maxw = (int)(n / 2 + 2);
    char **words = malloc(sizeof(char *) * (size_t)maxw);
    int *lens = malloc(sizeof(int) * (size_t)maxw);
    int rc = (words && lens) ? 0 : -1;
    int nw = rc ? 0 : tokenise(buf, n, words, lens, maxw);
    const int lb = cfg->log2_buckets;
    for (int i = 0; i < nw && !rc; i++) {
        rc |= push(f, fnv_bytes(ns_seed(1), words[i], (size_t)lens[i]), lb);
        if (cfg->word_ngrams >= 2 && i + 1 < nw) {
            uint64_t h = fnv_bytes(ns_seed(2), words[i], (size_t)lens[i]);
            h = fnv_bytes(h, " ", 1);
            rc |= push(f, fnv_bytes(h, words[i + 1], (size_t)lens[i + 1]), lb);
        }
        if (cfg->char_min > 0) {
            char w[MAX_WORD + 2];
            int L = lens[i] + 2;
            w[0] = '<';
            memcpy(w + 1, words[i], (size_t)lens[i]);
            w[L - 1] = '>';
            for (int g = cfg->char_min; g <= cfg->char_max && !rc; g++)
                for (int s = 0; s + g <= L && !rc; s++)
                    rc |= push(f, fnv_bytes(ns_seed(10 + g), w + s, (size_t)g), lb);
        }
    }
    free(words);
    free(lens);
    free(buf);
    if (rc) return -1;
    return finish(f);
}

void sx_feats_free(sx_feats *f) {
    free(f->idx);
    free(f->val);
    memset(f, 0, sizeof *f);
}
