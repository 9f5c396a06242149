"""Train the byte-level BPE tokenizer (vocab 8192) on the training documents and write the tokenizer
files the model folder ships: tokenizer.json and tokenizer_config.json.

  - model: BPE, trained with `tokenizers` BpeTrainer(vocab_size=8192, min_frequency=2) over the
    training documents only (one iterator item per document), with the 256-byte ByteLevel alphabet
  - pre-tokenizer ByteLevel(add_prefix_space=False) (GPT-2 regex), decoder ByteLevel; no
    normalizer, no post-processor (nothing is added automatically: callers prepend bos themselves)
  - special tokens: <|endoftext|> = id 0 (bos, eos and document separator), <|pad|> = id 1

Also prints and writes token counts per source (tools/work/token_counts.json).

Usage: python tools/train/tokenizer.py --npm-dir /tmp/corpora --out models/webmoe-mini
"""
import argparse, json, os, sys
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders

sys.path.insert(0, os.path.dirname(__file__))
from corpus import load_documents, split  # noqa: E402

EOT, PAD = '<|endoftext|>', '<|pad|>'
VOCAB = 8192
MAX_LEN = 1024

# Plain "User: ...\nAssistant: ..." turns. A system message comes first as bare text; each finished
# assistant turn ends with <|endoftext|>; the generation prompt is "Assistant:" (the model continues
# with " ..." since byte-level BPE keeps the leading space inside the next token).
CHAT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}<|endoftext|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def train_tokenizer(texts) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=[EOT, PAD],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator(texts, tr)
    assert tok.token_to_id(EOT) == 0 and tok.token_to_id(PAD) == 1 and tok.get_vocab_size() == VOCAB
    return tok


def tokenizer_config() -> dict:
    return {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'bos_token': EOT, 'eos_token': EOT, 'pad_token': PAD,
        'model_max_length': MAX_LEN, 'clean_up_tokenization_spaces': False,
        'chat_template': CHAT_TEMPLATE,
    }


def write_tokenizer_files(tok: Tokenizer, out: str):
    os.makedirs(out, exist_ok=True)
    tok.save(f'{out}/tokenizer.json')
    json.dump(tokenizer_config(), open(f'{out}/tokenizer_config.json', 'w'), indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--npm-dir', default='/tmp/corpora')
    ap.add_argument('--out', default='models/webmoe-mini')
    ap.add_argument('--counts', default='tools/work/token_counts.json')
    a = ap.parse_args()
    train, held = split(load_documents(a.npm_dir))
    tok = train_tokenizer([t for _, t in train])
    write_tokenizer_files(tok, a.out)
    counts = {}
    for part, ds in (('train', train), ('heldout', held)):
        for s, t in ds:
            c = counts.setdefault(s, {'train': 0, 'heldout': 0})
            c[part] += len(tok.encode(t).ids) + 1  # + the <|endoftext|> before each document
    tot = {p: sum(c[p] for c in counts.values()) for p in ('train', 'heldout')}
    counts['total'] = tot
    counts['heldout_fraction'] = tot['heldout'] / (tot['train'] + tot['heldout'])
    os.makedirs(os.path.dirname(a.counts), exist_ok=True)
    json.dump(counts, open(a.counts, 'w'), indent=1)
    print(json.dumps(counts, indent=1))


if __name__ == '__main__':
    main()
