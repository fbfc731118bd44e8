/* test_token_display.c — sx_tokenizer_token_display on the embedded GPT-2 vocabulary (the
 * text every report's token column carries): for every id, undoing the display escapes gives
 * back exactly decode([id]) (so the display is unambiguous), the display is valid UTF-8,
 * leading spaces are the U+2423 mark, <|endoftext|> is one token, partial UTF-8 bytes are
 * \xNN; decode(encode(text)) == text for tricky text; and top_contexts.csv-style rows from
 * ids round-trip: the token_display column undone equals the decoded token column. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tokenizer.h"

/* The inverse of the display rules (tokenizer.h), independent of the implementation. */
static size_t undisplay(const char *s, char *out) {
    size_t k = 0;
    int leading = 1;
    while (*s) {
        if (leading && !strncmp(s, "\xE2\x90\xA3", 3)) { out[k++] = ' '; s += 3; continue; }
        leading = 0;
        if (s[0] == '\\') {
            char c = s[1];
            if (c == '\\') out[k++] = '\\', s += 2;
            else if (c == 'n') out[k++] = '\n', s += 2;
            else if (c == 't') out[k++] = '\t', s += 2;
            else if (c == 'r') out[k++] = '\r', s += 2;
            else if (c == 'x') { char h[3] = {s[2], s[3], 0}; out[k++] = (char)strtol(h, NULL, 16); s += 4; }
            else if (c == 'u' && !strncmp(s, "\\u2423", 6)) memcpy(out + k, "\xE2\x90\xA3", 3), k += 3, s += 6;
            else return (size_t)-1;
        } else {
            out[k++] = *s++;
        }
    }
    return k;
}

static int valid_utf8(const unsigned char *s) {
    while (*s) {
        int n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 0;
        if (!n) return 0;
        for (int i = 1; i < n; i++) if ((s[i] & 0xC0) != 0x80) return 0;
        s += n;
    }
    return 1;
}

int main(void) {
    const char *src = getenv("SAETOX_SOURCE");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/embedded", src ? src : ".");
    sx_tokenizer *t = NULL;
    sx_err err = {0};
    if (sx_tokenizer_load(dir, &t, &err)) {
        printf("SKIP: %s\n", err.msg);
        return 77;
    }
    int V = sx_tokenizer_vocab_size(t), bad = 0, partial = 0, spaced = 0;
    char disp[2048], back[2048];
    for (int id = 0; id < V; id++) {
        int n = sx_tokenizer_token_display(t, id, disp, sizeof disp);
        if (n < 0 || (size_t)n >= sizeof disp) { bad++; continue; }
        if (sx_tokenizer_is_special(t, id)) continue;
        char *raw;
        size_t len;
        if (sx_tokenizer_decode(t, &id, 1, &raw, &len, &err)) { bad++; continue; }
        size_t k = undisplay(disp, back);
        if (k != len || memcmp(back, raw, len) || !valid_utf8((const unsigned char *)disp)) {
            if (bad++ < 5) fprintf(stderr, "id %d: display '%s' does not undo to the decoded bytes\n", id, disp);
        }
        partial += strstr(disp, "\\x") != NULL;
        spaced += !strncmp(disp, "\xE2\x90\xA3", 3);
        free(raw);
    }
    CHECK(bad == 0, "%d of %d tokens do not round-trip through the display", bad, V);
    CHECK(partial > 100, "GPT-2 has byte tokens that are not whole characters: %d shown as \\xNN", partial);
    CHECK(spaced > 10000, "leading-space tokens carry the mark: %d", spaced);
    int eot = sx_tokenizer_token_id(t, "<|endoftext|>");
    CHECK(eot >= 0 && sx_tokenizer_token_display(t, eot, disp, sizeof disp) > 0 && !strcmp(disp, "<|endoftext|>"),
          "<|endoftext|> is one token: '%s'", disp);
    int you = sx_tokenizer_token_id(t, "\xC4\xA0You");
    sx_tokenizer_token_display(t, you, disp, sizeof disp);
    CHECK(!strcmp(disp, "\xE2\x90\xA3You"), "'\\u0120You' displays as '\\u2423You': '%s'", disp);
    CHECK(sx_tokenizer_token_display(t, V, disp, sizeof disp) == -1 && !disp[0], "an id outside the vocabulary");
    char small[4];
    int full = sx_tokenizer_token_display(t, you, small, sizeof small);
    CHECK(full == 6 && strlen(small) < sizeof small, "truncation returns the full length (%d)", full);

    /* decode(encode(text)) == text, and per-token display undone and joined == text */
    const char *text = "You are a \xF0\x9F\x98\xA1 idiot!\n\tcaf\xC3\xA9 \\back <|endoftext|> \xE2\x90\xA3 end";
    int32_t *ids;
    int n;
    CHECK(sx_tokenizer_encode(t, text, strlen(text), 0, &ids, &n, &err) == 0, "encode: %s", err.msg);
    char *dec;
    size_t dl;
    CHECK(sx_tokenizer_decode(t, ids, n, &dec, &dl, &err) == 0 && dl == strlen(text) && !memcmp(dec, text, dl),
          "decode(encode(text)) == text");
    char joined[4096];
    size_t jl = 0;
    for (int i = 0; i < n; i++) {
        sx_tokenizer_token_display(t, ids[i], disp, sizeof disp);
        size_t k = undisplay(disp, joined + jl);
        CHECK(k != (size_t)-1, "token %d display '%s' parses", i, disp);
        if (k != (size_t)-1) jl += k;
    }
    CHECK(jl == strlen(text) && !memcmp(joined, text, jl), "the displayed tokens undo to the text");
    free(ids), free(dec);
    sx_tokenizer_free(t);
    return TEST_DONE();
}
