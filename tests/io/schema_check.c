/* schema_check — test tool for include/saetox/schema.h.
 *   schema_check --markdown         the schema tables as io/README.md lists them
 *   schema_check FILE...            each CSV's header is exactly its schema's (found by file
 *                                   name); a .jsonl's records carry every schema key
 * Exit 0 when all match, 1 (one line per problem on stderr) otherwise. */
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "sx_json.h"
#include "schema.h"

static const char *TYPES[] = {"string", "integer", "number"};

static void markdown(void) {
    for (int i = 0; SX_SCHEMAS[i]; i++) {
        const sx_schema *s = SX_SCHEMAS[i];
        printf("### `%s` (`%s`)\n\nOne row: %s.\n\n| column | type | required | meaning |\n"
               "| --- | --- | --- | --- |\n",
               s->file, s->producer, s->meaning);
        for (int c = 0; c < s->ncols; c++)
            printf("| `%s` | %s | %s | %s |\n", s->cols[c].name, TYPES[s->cols[c].type],
                   s->cols[c].required ? "yes" : "", s->cols[c].meaning);
        printf("\n");
    }
}

static int check_jsonl(const char *path, const sx_schema *s) {
    sx_err err;
    sx_jsonl_reader *r;
    if (sx_jsonl_open(path, &r, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    cJSON *j;
    int k, bad = 0, n = 0;
    while ((k = sx_jsonl_next(r, &j, &err)) == 1) {
        for (int c = 0; c < s->ncols && !bad; c++)
            if (!cJSON_GetObjectItemCaseSensitive(j, s->cols[c].name))
                bad = fprintf(stderr, "%s: no key '%s' (schema %s)\n", sx_jsonl_where(r),
                              s->cols[c].name, s->file) > 0;
        cJSON_Delete(j);
        n++;
    }
    if (k < 0) bad = fprintf(stderr, "%s\n", err.msg) > 0;
    if (!n) bad = fprintf(stderr, "%s: no records\n", path) > 0;
    sx_jsonl_close(r);
    return bad;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--markdown")) {
        markdown();
        return 0;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        const sx_schema *s = sx_schema_find(argv[i]);
        if (!s) {
            fprintf(stderr, "%s: no schema for this file name\n", argv[i]);
            bad = 1;
            continue;
        }
        size_t n = strlen(argv[i]);
        if (n > 6 && !strcmp(argv[i] + n - 6, ".jsonl")) {
            bad |= check_jsonl(argv[i], s);
            continue;
        }
        sx_err err;
        sx_csv_table t;
        if (sx_csv_read(argv[i], &t, &err) || sx_csv_check_schema(&t, s, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            bad = 1;
        } else {
            printf("ok: %s (%s)\n", argv[i], s->file);
        }
        if (t.buf) sx_csv_free(&t);
    }
    return bad;
}
