/* cmd_tokenize.c — `saetox tokenize`: text -> ids (comma-separated, one line), or with
 * --decode ids -> text.  Needs only the tokenizer files in --model DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tokenizer.h"

static int fail(const char *msg) {
    cli_error("tokenize", msg);
    return 1;
}

static int print_ids(const sx_tokenizer *t, const char *s, size_t n, int add, sx_err *err) {
    int32_t *ids;
    int n_ids;
    if (sx_tokenizer_encode(t, s, n, add, &ids, &n_ids, err)) return -1;
    for (int i = 0; i < n_ids; i++) printf(i ? ",%d" : "%d", (int)ids[i]);
    putchar('\n');
    free(ids);
    return 0;
}

/* --lines: one output line per input line (the '\n' is not part of the text). */
static int print_lines(const sx_tokenizer *t, const char *s, size_t n, int add, sx_err *err) {
    size_t start = 0;
    while (start < n) {
        const char *nl = memchr(s + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - s) : n;
        if (print_ids(t, s + start, end - start, add, err)) return -1;
        start = end + 1;
    }
    return 0;
}

static int decode_ids(const sx_tokenizer *t, const char *list, sx_err *err) {
    size_t cap = strlen(list) / 2 + 2;
    int64_t *v = malloc(cap * sizeof *v);
    int32_t *ids = malloc(cap * sizeof *ids);
    int n = v && ids ? cli_parse_int_list(list, v, (int)cap) : -1, rc = -1;
    if (n < 0) {
        sx_failc(err, SX_EINVAL, "--decode: '%s' is not a comma-separated id list", list);
    } else {
        for (int i = 0; i < n; i++) ids[i] = (int32_t)v[i];
        char *text;
        size_t len;
        if (!sx_tokenizer_decode(t, ids, n, &text, &len, err)) {
            fwrite(text, 1, len, stdout);
            putchar('\n');
            free(text);
            rc = 0;
        }
    }
    free(v);
    free(ids);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *file = NULL, *decode = NULL;
    int no_special = 0, lines = 0;
    cli_opt opts[] = {
        {"model", CLI_STR, &model, "DIR", "folder with tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe", 1, 0},
        {"text", CLI_STR, &text, "STR", "text to encode", 0, 0},
        {"file", CLI_STR, &file, "F", "encode the contents of F instead ('-' = stdin)", 0, 0},
        {"lines", CLI_FLAG, &lines, NULL, "with --file: one line of ids per input line", 0, 0},
        {"no-special", CLI_FLAG, &no_special, NULL, "add no BOS/EOS (default: as the tokenizer config says)", 0, 0},
        {"decode", CLI_STR, &decode, "IDS", "decode comma-separated ids to text instead", 0, 0},
    };
    int rc = cli_parse("tokenize", "Encode text to token ids (comma-separated, one line).", opts,
                       (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == 1 ? 0 : 2;
    if (!!text + !!file + !!decode != 1) {
        fprintf(stderr, "saetox tokenize: give exactly one of --text, --file, --decode\n");
        return 2;
    }
    sx_err err = {0};
    sx_tokenizer *t;
    if (sx_tokenizer_load(model, &t, &err)) return fail(err.msg);
    int add = !no_special;
    if (decode) {
        rc = decode_ids(t, decode, &err);
    } else if (text) {
        rc = print_ids(t, text, strlen(text), add, &err);
    } else {
        char *data = NULL;
        size_t len = 0;
        if (strcmp(file, "-") == 0) {
            size_t cap = 0;
            for (;;) {
                if (len + 65536 > cap) {
                    char *nd = realloc(data, cap = cap * 2 + 65536);
                    if (!nd) break;
                    data = nd;
                }
                size_t got = fread(data + len, 1, cap - len, stdin);
                if (!got) break;
                len += got;
            }
            rc = ferror(stdin) ? sx_failc(&err, SX_EIO, "stdin: read error") : 0;
        } else {
            rc = sx_read_file(file, (size_t)1 << 32, &data, &len, &err);
        }
        if (!rc) rc = lines ? print_lines(t, data, len, add, &err) : print_ids(t, data, len, add, &err);
        free(data);
    }
    sx_tokenizer_free(t);
    if (rc) return fail(err.msg);
    return fflush(stdout) ? fail("write error on stdout") : 0;
}
