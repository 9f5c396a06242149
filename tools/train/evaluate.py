"""Evaluate the exported model (fp16 file upcast to float32, as the engine computes) and write what the
model card shows:

  models/webmoe-mini/eval/eval.json     held-out perplexity (all held-out documents, per source, and the
                                        committed slice), expert utilisation per layer, sample generations
  models/webmoe-mini/loss.png           training loss (per batch) and held-out loss against tokens seen
  models/webmoe-mini/utilisation.png    share of top-k assignments per expert and layer
  models/webmoe-mini/training_log.csv   the training logs of all phases joined (tokens column added)

Perplexity follows the protocol in eval/reference.json (export.py): non-overlapping 128-token chunks,
bos prepended to each chunk, every chunk token predicted, ppl = exp(mean NLL). For the full held-out
set each held-out document is tokenized and chunked on its own.

Expert utilisation: for every token of the held-out documents and every layer, the router's top-k
experts (top-k of the router logits = top-k of its softmax); share = assignments of an expert /
all assignments of that layer (uniform = 1/E: 3.1% for 32 experts). An expert is dead if it gets no
assignment.

Usage: python tools/train/evaluate.py --npm-dir /tmp/corpora --model models/webmoe-mini \\
           --log tools/work/run1/log.csv:1500 --log tools/work/run2/log.csv
(--log PATH[:LAST_STEP] in training order; LAST_STEP cuts a phase at the checkpoint the next one
started from.)
"""
import argparse, csv, json, math, os, sys
import torch
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(__file__))
from corpus import load_documents, split  # noqa: E402
from export import CHUNK, load_f32  # noqa: E402

PROMPTS = ['The whale', 'Mr. Speaker, the state of the Union', 'It was a dark and stormy night',
           'Call me', 'The President', 'A fool and his money']


@torch.no_grad()
def nll_and_routing(m, ids, bos, counts, batch=16):
    """Sum NLL and token count of `ids` under the chunk protocol; adds top-k router assignments to counts."""
    k = m.config.num_experts_per_tok
    chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
    total, n = 0.0, 0
    full = [c for c in chunks if len(c) == CHUNK]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[c] for c in chunks if len(c) < CHUNK]
    for g in groups:
        x = torch.tensor([[bos] + c for c in g])
        out = m(input_ids=x, use_cache=False, output_router_logits=True)
        logits = out.logits[:, :-1].float()
        total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                                   reduction='sum').item()
        n += x[:, 1:].numel()
        for layer, rl in enumerate(out.router_logits):
            # router logits cover every position, bos included; count the chunk tokens only
            rl = rl.float().reshape(x.shape[0], x.shape[1], -1)[:, 1:].reshape(-1, rl.shape[-1])
            counts[layer] += torch.bincount(rl.topk(k, dim=-1).indices.flatten(), minlength=counts.shape[1]).float()
    return total, n


def read_logs(specs, tokens_per_step=16 * 128):
    """Joins training logs; a row's tokens = steps so far x tokens_per_step (batch x seq of the runs)."""
    rows, step0 = [], 0
    for phase, spec in enumerate(specs, 1):
        path, _, last = spec.partition(':')
        last_step = int(last) if last else None
        for r in csv.DictReader(open(path)):
            s = int(r['step'])
            if last_step is not None and s > last_step:
                break
            rows.append({'phase': phase, 'file': path, 'step': step0 + s, 'tokens': (step0 + s) * tokens_per_step,
                         'time_s': r['time'], 'loss': r['loss'], 'heldout': r.get('heldout') or '',
                         'lr': r.get('lr') or '', 'tok_s': r.get('tok_s') or ''})
        step0 = rows[-1]['step'] if rows else 0
    return rows


def plots(model_dir, rows, util, name, k):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if rows:
        plt.figure(figsize=(6.4, 3.6))
        tr = [r for r in rows if r['loss']]  # a step-0 row (train.py logs the starting point) has held-out loss only
        plt.plot([r['tokens'] / 1e6 for r in tr], [float(r['loss']) for r in tr], label='train (one batch)', lw=0.8)
        hv = [(r['tokens'] / 1e6, float(r['heldout'])) for r in rows if r['heldout']]
        plt.plot([h[0] for h in hv], [h[1] for h in hv], 'o-', label='held-out (60 x 128 tokens)')
        for r0, r1 in zip(rows, rows[1:]):
            if r1['phase'] != r0['phase']:
                plt.axvline(r0['tokens'] / 1e6, color='grey', ls=':', lw=0.8)
        plt.xlabel('training tokens (millions)'); plt.ylabel('cross-entropy (nats/token)')
        plt.legend(); plt.grid(alpha=0.3); plt.title(f'{name} training')
        plt.tight_layout(); plt.savefig(f'{model_dir}/loss.png', dpi=110); plt.close()
    plt.figure(figsize=(7, 2.4))
    plt.imshow([[100 * v for v in u] for u in util], aspect='auto', cmap='viridis')
    plt.colorbar(label=f'% of top-{k} assignments'); plt.xlabel('expert'); plt.ylabel('layer')
    plt.title(f'expert utilisation on held-out text (uniform = {100 / len(util[0]):.2g}%)'); plt.tight_layout()
    plt.savefig(f'{model_dir}/utilisation.png', dpi=110); plt.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--npm-dir', default='/tmp/corpora')
    ap.add_argument('--model', default='models/webmoe-mini')
    ap.add_argument('--log', action='append', default=[], help='PATH[:LAST_STEP], in training order')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-docs', type=int, default=None, help='quick test: evaluate only this many held-out documents')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(f'{a.model}/tokenizer.json')
    bos = tok.token_to_id('<|endoftext|>')
    m = load_f32(a.model)
    E, L = m.config.num_experts, m.config.num_hidden_layers
    _, held = split(load_documents(a.npm_dir))
    if a.max_docs:
        held = [d for src in ('moby', 'sotu', 'fortunes') for d in held if d[0] == src][::max(1, len(held) // a.max_docs)]

    counts = torch.zeros(L, E)
    per_source = {}
    for s, t in held:
        nl, n = nll_and_routing(m, tok.encode(t, add_special_tokens=False).ids, bos, counts)
        e = per_source.setdefault(s, [0.0, 0])
        e[0] += nl; e[1] += n
    tot_nll, tot_n = sum(v[0] for v in per_source.values()), sum(v[1] for v in per_source.values())
    util = (counts / counts.sum(1, keepdim=True)).tolist()
    text = open(f'{a.model}/eval/heldout-slice.txt', encoding='utf-8').read()
    s_nll, s_n = nll_and_routing(m, tok.encode(text, add_special_tokens=False).ids, bos, torch.zeros(L, E))

    samples = []
    for p in PROMPTS:
        pid = torch.tensor([[bos] + tok.encode(p, add_special_tokens=False).ids])
        with torch.no_grad():
            g = m.generate(pid, do_sample=False, max_new_tokens=40)[0, pid.shape[1]:].tolist()
            torch.manual_seed(1234)
            s = m.generate(pid, do_sample=True, temperature=0.8, top_p=0.95, top_k=0, max_new_tokens=60)[0, pid.shape[1]:].tolist()
        samples.append({'prompt': p, 'greedy': tok.decode(g), 'sampled': tok.decode(s)})
        print(f'--- {p!r}\n  greedy : {tok.decode(g)!r}\n  sampled: {tok.decode(s)!r}', flush=True)

    res = {
        'weights': 'fp16 model.safetensors upcast to float32',
        'protocol': 'non-overlapping 128-token chunks, bos prepended, all chunk tokens predicted, ppl = exp(mean NLL)',
        'heldout': {'documents': len(held), 'tokens': tot_n, 'ppl': math.exp(tot_nll / tot_n),
                    'per_source': {s: {'tokens': v[1], 'ppl': math.exp(v[0] / v[1])} for s, v in per_source.items()}},
        'slice': {'tokens': s_n, 'ppl': math.exp(s_nll / s_n)},
        'utilisation': {'share_per_layer': [[round(v, 5) for v in u] for u in util],
                        'min_share': [min(u) for u in util], 'max_share': [max(u) for u in util],
                        'dead_experts': [[i for i, v in enumerate(u) if v == 0] for u in util],
                        'below_quarter_uniform': [[i for i, v in enumerate(u) if v < 0.25 / E] for u in util]},
        'samples': samples,
        'sampling': {'greedy': 'argmax, 40 new tokens', 'sampled': 'temperature 0.8, top-p 0.95, seed 1234, 60 new tokens'},
    }
    os.makedirs(f'{a.model}/eval', exist_ok=True)
    json.dump(res, open(f'{a.model}/eval/eval.json', 'w'), indent=1)
    print(json.dumps({k: res[k] for k in ('heldout', 'slice')}, indent=1))
    for layer, u in enumerate(util):
        print(f'layer {layer}: min {100 * min(u):.2f}% max {100 * max(u):.2f}% dead {res["utilisation"]["dead_experts"][layer]}')

    rows = read_logs(a.log) if a.log else []
    if rows:
        with open(f'{a.model}/training_log.csv', 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader(); w.writerows(rows)
    plots(a.model, rows, util, os.path.basename(os.path.normpath(a.model)), m.config.num_experts_per_tok)


if __name__ == '__main__':
    main()
