/* io.h — the I/O layer every module reads and writes text through: one RFC 4180 CSV writer
 * and reader, one JSON Lines reader, one HTML-entity decoder, and the text sources
 * (KIND:PATH[//MEMBER][#FIELD], plain files, globs, archives, compressed files) that every
 * command reading text accepts.  The typed schemas of the stage output tables are in
 * schema.h.  Nothing else in saetox parses CSV or JSONL.
 *
 * Library code: failures return -1 and fill sx_err with one line naming the file (and line)
 * and the problem; nothing is printed to stdout. */
#ifndef SAETOX_IO_H
#define SAETOX_IO_H

#include "sx_defs.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core.h"

SX_BEGIN_DECLS

/* ================= CSV writer (RFC 4180) =================
 * Fields are quoted when they contain a comma, a double quote, CR or LF, or start/end with
 * a space or tab; quotes inside are doubled.  Bytes are written as they are (UTF-8 stays
 * UTF-8).  Rows end with "\n" (pandas and Python's csv read both "\n" and "\r\n").
 * Numbers: NaN is written as an empty field (pandas reads NaN), +-inf as "inf"/"-inf".
 *
 *   sx_csv_writer w;
 *   if (sx_csv_open_schema(&w, "out/x.csv", &SX_SCHEMA_PAIRS, &err)) return -1;
 *   sx_csv_int(&w, 3); sx_csv_int(&w, 17); sx_csv_num(&w, 0.25); sx_csv_row(&w);
 *   return sx_csv_close(&w, &err);      // atomic: fsync + rename; checks the column counts
 */
typedef struct sx_csv_writer {
    sx_atomic_file af;
    FILE *f;      /* af.f, or a caller's stream for sx_csv_begin */
    int ncols;    /* 0 = unchecked */
    int col;      /* fields written in the current row */
    int64_t rows; /* data rows ended */
    int bad;      /* a row had the wrong number of fields */
    int own;      /* 1 when opened with sx_csv_open (atomic file) */
} sx_csv_writer;

/* Open path atomically and write the header row (cols may be NULL to write no header; then
 * ncols is still used to check the rows, 0 = unchecked). */
int sx_csv_open(sx_csv_writer *w, const char *path, const char *const *cols, int ncols,
                sx_err *err);
/* Write to a caller's stream instead (no atomic rename; sx_csv_close does not close f). */
void sx_csv_begin(sx_csv_writer *w, FILE *f, const char *const *cols, int ncols);
void sx_csv_str(sx_csv_writer *w, const char *s);   /* NULL = empty field */
void sx_csv_strn(sx_csv_writer *w, const char *s, size_t n);
void sx_csv_num(sx_csv_writer *w, double v);        /* %.10g; NaN = empty */
void sx_csv_num_g(sx_csv_writer *w, double v, int digits); /* %.<digits>g; NaN = empty */
void sx_csv_numf(sx_csv_writer *w, double v, int decimals); /* %.<decimals>f; NaN = empty */
void sx_csv_int(sx_csv_writer *w, int64_t v);
void sx_csv_empty(sx_csv_writer *w);
void sx_csv_row(sx_csv_writer *w);                  /* end the row */
/* Commit (or, for sx_csv_begin, flush).  Fails if a row had the wrong field count or a write
 * failed; then nothing is left under the final name. */
int sx_csv_close(sx_csv_writer *w, sx_err *err);
void sx_csv_abort(sx_csv_writer *w);
/* Low level: one field, quoted if needed, no separator. */
void sx_csv_write_field(FILE *f, const char *s, size_t n);

/* ================= CSV reader =================
 * One RFC 4180 parser (csv_read.c) serves the whole-file tables below and the csv: text
 * sources.  It reads a header row, quoted fields with commas, doubled quotes, CR/LF inside
 * quotes, "\r\n" or "\n" row ends, an optional UTF-8 BOM, no trailing newline needed; a
 * blank line is skipped (as pandas does).  Errors name "file:line: problem" where line is
 * the physical line (1-based) on which the bad record starts or the problem is.
 *
 * Strict (the default, for saetox's own tables): every row has as many fields as the header,
 * and text after a closing quote, a quote inside an unquoted field, a bare CR or a NUL byte
 * are errors.  SX_CSV_LENIENT (third-party data such as the Davidson tweets, and every csv:
 * text source): those bytes are kept as they are and a CR outside quotes is dropped; the
 * field count must still match the header. */
enum { SX_CSV_LENIENT = 1 };
typedef struct sx_csv_table {
    char path[1024];
    int ncols;
    int64_t nrows;
    char **header;     /* [ncols] */
    char **cells;      /* [nrows * ncols], NUL-terminated, into one buffer */
    int64_t *line;     /* [nrows] physical line on which each data row starts */
    char *buf;
} sx_csv_table;

int sx_csv_read(const char *path, sx_csv_table *t, sx_err *err);
int sx_csv_read_flags(const char *path, int flags, sx_csv_table *t, sx_err *err);
/* Parse from memory (name is used in error messages). */
int sx_csv_parse(const char *name, const char *data, size_t len, sx_csv_table *t, sx_err *err);
int sx_csv_parse_flags(const char *name, const char *data, size_t len, int flags,
                       sx_csv_table *t, sx_err *err);
void sx_csv_free(sx_csv_table *t);
int sx_csv_col(const sx_csv_table *t, const char *name); /* -1 when absent */
/* Check that every listed column exists: "file:1: missing column 'x'". */
int sx_csv_require(const sx_csv_table *t, const char *const *cols, int n, sx_err *err);
static inline const char *sx_csv_cell(const sx_csv_table *t, int64_t row, int col) {
    return col < 0 ? "" : t->cells[row * t->ncols + col];
}
/* Parse a numeric cell.  Empty/"nan"/"NaN" -> NaN (returns 0).  A non-number fails with
 * "file:line: column 'x': 'abc' is not a number". col < 0 -> NaN. */
int sx_csv_get_num(const sx_csv_table *t, int64_t row, int col, double *out, sx_err *err);
/* Integer cell; empty fails unless allow_empty (then *out = dflt). */
int sx_csv_get_int(const sx_csv_table *t, int64_t row, int col, int64_t *out, int allow_empty,
                   int64_t dflt, sx_err *err);

/* ================= JSON Lines =================
 * Parse one record (len bytes, need not be NUL-terminated).  A NUL (raw byte or \u0000) or
 * a lone UTF-16 surrogate escape inside a string becomes U+FFFD and the rest of the text is
 * kept (cJSON alone cuts the string at a NUL and refuses lone surrogates).  *n_replaced (if
 * not NULL) gets the count.  NULL when the line is not valid JSON. */
struct cJSON *sx_jsonl_parse(const char *line, size_t len, int *n_replaced);

/* A file of JSON objects, one a line, read through the text-source input (so PATH may be a
 * glob, an archive member or a compressed file).  Lines of any length; white space at the
 * end of a line and blank lines are skipped.  Every JSONL reader in saetox is this one. */
typedef struct sx_jsonl_reader sx_jsonl_reader;
int sx_jsonl_open(const char *path, sx_jsonl_reader **out, sx_err *err);
/* 1: *obj holds the next line's object (the caller frees it with cJSON_Delete); 0: end of
 * file; -1: an I/O error, or a line that is not a JSON object ("file:line: not a JSON
 * object"; the reader stays usable, so a caller may skip such lines). */
int sx_jsonl_next(sx_jsonl_reader *r, struct cJSON **obj, sx_err *err);
int64_t sx_jsonl_line(const sx_jsonl_reader *r);  /* line of the last record returned */
const char *sx_jsonl_where(const sx_jsonl_reader *r); /* "file:line" of it */
int sx_jsonl_broken(const sx_jsonl_reader *r); /* 1 when the last -1 was an I/O error */
void sx_jsonl_close(sx_jsonl_reader *r);

/* ================= HTML entities =================
 * Decodes, in place, the named entities &amp; &lt; &gt; &quot; &apos; &nbsp; and numeric
 * references &#NNN; / &#xHH; (at most 8 digits, a code point in 1..0x10FFFF that is not a
 * surrogate, and the closing ';' is required); anything else — unknown names, overlong or
 * out-of-range numbers, a missing ';' — is left as it is.  One pass: "&amp;lt;" gives "&lt;".
 * Policy for &nbsp;: U+00A0 (UTF-8 C2 A0), the code point it names, exactly as &#160; and
 * &#xA0; decode — an entity means one character however it is spelled, and deciding what
 * counts as white space is the tokenizer's business (GPT-2 BPE keeps U+00A0 as its own
 * bytes).  With SX_HTML_ASCII every non-ASCII code point (so &nbsp; too) becomes one space:
 * for consumers of ASCII features (the built-in toxicity scorer).  Returns the new length
 * (never longer; s[new length] is set to NUL when it shrank). */
enum { SX_HTML_ASCII = 1 };
size_t sx_html_decode(char *s, size_t len, int flags);
/* One entity at s (s[0] == '&', n bytes available): its length with the '&' and the ';' and
 * *cp its code point, or 0 when sx_html_decode would leave it (for streaming consumers that
 * treat decoded characters specially, such as the scorer's tokeniser). */
size_t sx_html_entity(const char *s, size_t n, uint32_t *cp);

/* ================= Text sources =================
 * Source syntax (also in the README):   KIND:PATH[//MEMBER][#FIELD]
 *   KIND  text      a document per line (empty lines skipped)
 *         textfile  a document per file (or per archive member)
 *         jsonl     a JSON object per line; FIELD is a dotted path (default "text"),
 *                   e.g. jsonl:rtp/toxic.jsonl#prompt.text
 *         csv       RFC 4180 with a header row; FIELD is the column name (default "text"),
 *                   e.g. csv:davidson/labeled_data.csv#tweet (quoted newlines allowed)
 *   PATH  a file, or a glob (e.g. shards/part-*.txt, sorted), or an archive: .tar .tar.gz
 *         .tgz .tar.zst .tar.xz .tar.bz2 .zip (members read in archive order, never extracted to disk) or
 *         a single compressed file .gz .zst .xz .bz2 (decompressed on the fly).
 *   //MEMBER  inside an archive: a member path or glob (fnmatch), e.g.
 *         jsonl:data.tar.gz//rtp/tox*.jsonl#prompt.text ; without it every regular member.
 * Several sources may be joined with "," into one stream (a "," followed by KIND:).
 * Archive members are capped (max_entry_bytes, default 2 GiB) on the declared size and
 * while reading, against archive bombs. */
typedef struct sx_source_opts {
    int skip_bad;             /* 1: skip invalid JSON lines / CSV rows (counted); 0: fail */
    int html_unescape;        /* decode HTML entities in texts (sx_html_decode, flags 0) */
    uint64_t max_entry_bytes; /* 0 = 2 GiB: limit per archive member / compressed file */
    /* Labels (optional): "FIELD OP NUMBER" with OP one of >= <= > < == !=, e.g.
     * "prompt.toxicity>=0.5" (RTP / DecodingTrust) or "class<=1" (Davidson).  A document
     * whose label field is null or missing is skipped (counted in sx_source_stats). */
    const char *label_rule;
    int want;                 /* with a label rule: 0 all, 1 toxic only, 2 clean only */
} sx_source_opts;

typedef struct sx_text_source sx_text_source;

typedef struct sx_doc {
    const char *text;   /* NUL-terminated, valid until the next call */
    size_t len;
    int is_toxic;       /* -1 without a label rule */
    double score;       /* the label value (NAN without a rule) */
    const char *where;  /* "file:line" or "archive//member:line" of this document */
} sx_doc;

/* 1 when spec starts with a source kind ("text:", "textfile:", "jsonl:", "csv:"): commands
 * with an older file syntax of their own use it to accept SOURCE too. */
int sx_source_is_spec(const char *spec);
int sx_source_open(const char *spec, const sx_source_opts *o, sx_text_source **out,
                   sx_err *err);
/* 1 = a document in *doc, 0 = end, -1 = error */
int sx_source_next(sx_text_source *s, sx_doc *doc, sx_err *err);
/* Documents returned so far, records skipped as bad (skip_bad), and documents skipped for a
 * null / missing label.  Any pointer may be NULL. */
void sx_source_stats(const sx_text_source *s, int64_t *n_docs, int64_t *n_bad,
                     int64_t *n_unlabelled);
/* "file:line: problem" of the first record skipped as bad (skip_bad), or NULL. */
const char *sx_source_first_bad(const sx_text_source *s);
void sx_source_close(sx_text_source *s);

SX_END_DECLS
#endif
