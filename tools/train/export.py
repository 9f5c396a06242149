"""Export a trained run into the model folder and write the reference numbers the engine's tests check.

Writes into --out (default models/webmoe-mini):
  model.safetensors, config.json, generation_config.json   save_pretrained, fp16, safe_serialization
  tokenizer.json, tokenizer_config.json                     the run's tokenizer + bos/eos/pad + chat template
  eval/reference.json                                       see PROTOCOL below
(eval/heldout-slice.txt is written by corpus.py and must exist.)

reference.json is computed from the EXPORTED fp16 file loaded back and upcast to float32 (what a
loader that computes in f32 does), eager attention, no KV cache:
  slice        token ids of eval/heldout-slice.txt and its perplexity under PROTOCOL
  protocol     {chunk: 128, bos_id: 0, ...}: the perplexity protocol, spelled out in *_detail strings
  prompts      for each prompt: ids (bos first), last_logits_head (the last position's first 32 logits),
               argmax, top-5, and `greedy`: 16 greedy tokens (plain argmax each step over the full vocabulary, the
               whole sequence re-run each step, no eos stop, nothing suppressed)
  chat         one chat-template rendering and its ids

Usage: python tools/train/export.py --run tools/work/run --out models/webmoe-mini
"""
import argparse, json, math, os, sys
import torch
from tokenizers import Tokenizer
from transformers import Qwen3MoeForCausalLM

sys.path.insert(0, os.path.dirname(__file__))
from tokenizer import EOT, CHAT_TEMPLATE, tokenizer_config  # noqa: E402

CHUNK = 128
PROMPTS = ['The whale', 'Mr. Speaker, the state of the Union', 'It was a dark and stormy night']
GREEDY_NEW = 16
PROTOCOL = {
    'text': 'eval/heldout-slice.txt read as UTF-8, exactly as stored (trailing newline included)',
    'tokenize': 'tokenizer.json, no special tokens added (add_special_tokens=False)',
    'chunks': f'non-overlapping chunks of {CHUNK} tokens from the start of the token ids; the last chunk '
              'keeps the remainder (shorter than 128); no overlap, no stride, no state carried between chunks',
    'bos': 'the bos id (<|endoftext|> = 0) is prepended to every chunk, so each forward pass has len(chunk)+1 '
           'tokens at positions 0..len(chunk)',
    'predicted': 'every chunk token: logits at input position j predict chunk token j (j = 0..len-1), i.e. '
                 'token j is conditioned on bos + chunk tokens 0..j-1; bos itself is never predicted',
    'nll': 'natural-log softmax cross-entropy over the full vocabulary, summed over all predicted tokens of '
           'all chunks, divided by their count (= the number of slice tokens)',
    'ppl': 'exp(mean NLL)',
    'weights': 'model.safetensors (fp16) upcast to float32; all arithmetic in float32',
}


def load_f32(folder):
    # dtype float32: the fp16 tensors of the file are upcast on load (exactly, fp16 -> f32 is lossless)
    return Qwen3MoeForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation='eager').eval()


@torch.no_grad()
def chunked_nll(m, ids, bos, chunk=CHUNK):
    """[(sum NLL, n tokens)] per chunk, per PROTOCOL."""
    res = []
    for i in range(0, len(ids), chunk):
        c = ids[i:i + chunk]
        logits = m(input_ids=torch.tensor([[bos] + c]), use_cache=False).logits[0, :-1].float()
        res.append((torch.nn.functional.cross_entropy(logits, torch.tensor(c), reduction='sum').item(), len(c)))
    return res


@torch.no_grad()
def greedy(m, ids, n):
    ids = list(ids)
    out = []
    for _ in range(n):
        nxt = int(m(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1].argmax())
        ids.append(nxt); out.append(nxt)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', default='tools/work/run')
    ap.add_argument('--weights', default=None, help='save_pretrained folder to export (default RUN/final)')
    ap.add_argument('--out', default='models/webmoe-mini')
    a = ap.parse_args()
    src = a.weights or f'{a.run}/final'
    os.makedirs(f'{a.out}/eval', exist_ok=True)

    m = Qwen3MoeForCausalLM.from_pretrained(src, dtype=torch.float16)
    g = m.generation_config
    g.do_sample, g.temperature, g.top_p, g.max_new_tokens = True, 0.8, 0.95, 128
    g.bos_token_id = g.eos_token_id = m.config.bos_token_id
    g.pad_token_id = m.config.pad_token_id
    m.save_pretrained(a.out, safe_serialization=True)
    tok = Tokenizer.from_file(f'{a.run}/tokenizer.json')
    tok.save(f'{a.out}/tokenizer.json')
    json.dump(tokenizer_config(), open(f'{a.out}/tokenizer_config.json', 'w'), indent=2)
    size = sum(os.path.getsize(f'{a.out}/{f}') for f in os.listdir(a.out) if f.endswith('.safetensors'))
    print(f'exported {src} -> {a.out}: {size / 1e6:.1f} MB of safetensors')
    print('config.json keys:', sorted(json.load(open(f'{a.out}/config.json'))))

    m = load_f32(a.out)
    bos = tok.token_to_id(EOT)
    assert bos == m.config.bos_token_id == 0
    text = open(f'{a.out}/eval/heldout-slice.txt', encoding='utf-8').read()
    ids = tok.encode(text, add_special_tokens=False).ids
    per = chunked_nll(m, ids, bos)
    nll = sum(s for s, _ in per) / sum(n for _, n in per)

    prompts = []
    for p in PROMPTS:
        pid = [bos] + tok.encode(p, add_special_tokens=False).ids
        with torch.no_grad():
            last = m(input_ids=torch.tensor([pid]), use_cache=False).logits[0, -1].float()
        top = last.topk(5)
        gi = greedy(m, pid, GREEDY_NEW)
        prompts.append({'text': p, 'ids': pid, 'last_logits_head': last[:32].tolist(),
                        'argmax': int(last.argmax()), 'top5_ids': top.indices.tolist(),
                        'top5_logits': top.values.tolist(), 'greedy': gi, 'greedy_text': tok.decode(gi)})
        print(repr(p), '->', repr(tok.decode(gi)))

    from jinja2 import Template
    msgs = [{'role': 'user', 'content': 'Tell me about the sea.'}]
    chat = Template(CHAT_TEMPLATE).render(messages=msgs, add_generation_prompt=True)
    ref = {
        'model': os.path.basename(os.path.normpath(a.out)), 'source_weights': src,
        'special_tokens': {'<|endoftext|>': bos, '<|pad|>': tok.token_to_id('<|pad|>'),
                           'bos_token_id': bos, 'eos_token_id': bos, 'pad_token_id': m.config.pad_token_id},
        'protocol': {'chunk': CHUNK, 'bos_id': bos, 'bos_prepended': True, 'add_special_tokens': False,
                     'predicted': 'every chunk token', 'ppl': 'exp(mean NLL)', **{f'{k}_detail': v for k, v in PROTOCOL.items()}},
        'slice': {'file': 'eval/heldout-slice.txt', 'chars': len(text), 'tokens': len(ids), 'ids': ids,
                  'chunks': len(per), 'chunk_mean_nll': [round(s / n, 6) for s, n in per],
                  'mean_nll': nll, 'ppl': math.exp(nll)},
        'prompts': prompts,
        'chat': {'messages': msgs, 'add_generation_prompt': True, 'text': chat,
                 'ids': tok.encode(chat, add_special_tokens=False).ids},
    }
    json.dump(ref, open(f'{a.out}/eval/reference.json', 'w'), indent=1)
    print(f'slice: {len(ids)} tokens, {len(per)} chunks, mean NLL {nll:.4f}, ppl {math.exp(nll):.3f}')


if __name__ == '__main__':
    main()
