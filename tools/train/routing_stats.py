"""Routing statistics of exported models on the held-out documents, with transformers' own
Qwen3MoeForCausalLM as the oracle (fp16 model.safetensors upcast to float32, as evaluate.py loads it).

1. Top-k gating mass: for every token of every held-out document (the perplexity protocol's chunks:
   non-overlapping 128-token chunks, bos prepended, bos itself not counted) and every layer, the share
   of the router's softmax mass that falls on the k chosen experts (before norm_topk_prob
   renormalises them). Mean over tokens, per layer and over layers. Uniform routing gives k/E.

2. Distinct experts per layer per decode step in lockstep decode at batch B (1, 4, 8, 16, 32):
   a pool of POOL held-out segments of STEPS tokens (segments are taken round-robin over the
   held-out documents, so consecutive segments come from different documents and sources); the pool
   is cut into POOL/B groups of B segments. Each group is decoded in lockstep: bos for all B rows, then
   one teacher-forced token per row per step through transformers' KV cache (DynamicCache), B rows x
   1 token a forward pass. At every step after bos and every layer, distinct = size of the union of
   the top-k experts the B tokens choose. Mean over steps, groups and layers (and per layer).

Usage: python tools/train/routing_stats.py --npm-dir /tmp/corpora --model models/webmoe-mini \\
           --model tools/work/webmoe-mini --out tools/work/routing.json [--plot routing.png]
       python tools/train/routing_stats.py --merge A.json B.json --out routing.json --plot routing.png
"""
import argparse, json, os, sys
import torch
from tokenizers import Tokenizer
from transformers import DynamicCache

sys.path.insert(0, os.path.dirname(__file__))
from corpus import load_documents, split  # noqa: E402
from export import CHUNK, load_f32  # noqa: E402

BATCHES = (1, 4, 8, 16, 32)


@torch.no_grad()
def gating_mass(m, docs_ids, bos, batch=16):
    """Mean top-k softmax mass per layer over all held-out tokens (chunk protocol)."""
    k, L = m.config.num_experts_per_tok, m.config.num_hidden_layers
    chunks = [ids[i:i + CHUNK] for ids in docs_ids for i in range(0, len(ids), CHUNK)]
    full = [c for c in chunks if len(c) == CHUNK]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[c] for c in chunks if len(c) < CHUNK]
    mass, n = torch.zeros(L, dtype=torch.float64), 0
    for g in groups:
        x = torch.tensor([[bos] + c for c in g])
        out = m(input_ids=x, use_cache=False, output_router_logits=True)
        for layer, rl in enumerate(out.router_logits):
            p = torch.softmax(rl.float().reshape(x.shape[0], x.shape[1], -1)[:, 1:], dim=-1)
            mass[layer] += p.topk(k, dim=-1).values.sum(-1).double().sum()
        n += x.shape[0] * (x.shape[1] - 1)
    per_layer = (mass / n).tolist()
    return {'tokens': n, 'mean': sum(per_layer) / L, 'per_layer': per_layer, 'uniform': k / m.config.num_experts}


def segment_pool(docs_ids, pool, steps):
    """`pool` segments of `steps` tokens, round-robin over documents (segment j of every document, then
    segment j+1, ...), so a group of consecutive segments mixes documents."""
    per_doc = [[ids[i:i + steps] for i in range(0, len(ids) - steps + 1, steps)] for ids in docs_ids]
    out, j = [], 0
    while len(out) < pool:
        row = [segs[j] for segs in per_doc if j < len(segs)]
        if not row:
            raise ValueError(f'held-out documents hold fewer than {pool} segments of {steps} tokens')
        out += row
        j += 1
    return out[:pool]


@torch.no_grad()
def lockstep_distinct(m, segments, bos, B):
    """Distinct experts per layer per step for groups of B segments decoded in lockstep through the KV cache."""
    k, L = m.config.num_experts_per_tok, m.config.num_hidden_layers
    tot, n = torch.zeros(L, dtype=torch.float64), 0
    for g0 in range(0, len(segments) - B + 1, B):
        x = torch.tensor([[bos] + s for s in segments[g0:g0 + B]])  # [B, 1 + steps]
        cache = DynamicCache(config=m.config)
        for t in range(x.shape[1]):
            out = m(input_ids=x[:, t:t + 1], past_key_values=cache, use_cache=True, output_router_logits=True)
            cache = out.past_key_values
            if t == 0:
                continue  # the bos step: every row feeds the same token
            for layer, rl in enumerate(out.router_logits):
                tot[layer] += rl.float().topk(k, dim=-1).indices.unique().numel()
            n += 1
    per_layer = (tot / n).tolist()
    return {'groups': len(segments) // B, 'steps': n, 'mean': sum(per_layer) / L, 'per_layer': per_layer}


def check_cache_oracle(m, segments, bos):
    """The KV-cache path must route exactly as one full forward pass over the same tokens."""
    x = torch.tensor([[bos] + s for s in segments[:2]])
    with torch.no_grad():
        full = m(input_ids=x, use_cache=False, output_router_logits=True).router_logits
        cache, step = DynamicCache(config=m.config), []
        for t in range(x.shape[1]):
            out = m(input_ids=x[:, t:t + 1], past_key_values=cache, use_cache=True, output_router_logits=True)
            cache = out.past_key_values
            step.append(out.router_logits)
    k = m.config.num_experts_per_tok
    for layer in range(m.config.num_hidden_layers):
        a = full[layer].reshape(x.shape[0], x.shape[1], -1)
        b = torch.stack([s[layer].reshape(x.shape[0], -1) for s in step], dim=1)
        if (a - b).abs().max() > 1e-3:
            raise AssertionError(f'layer {layer}: cached router logits differ from the full pass by {(a - b).abs().max():.3g}')
        same = (a.topk(k, -1).indices.sort(-1).values == b.topk(k, -1).indices.sort(-1).values).float().mean().item()
        if same < 0.99:
            raise AssertionError(f'layer {layer}: only {same:.3f} of top-k sets agree between cached and full pass')


def plot(res, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, r in res['models'].items():
        ax.plot(BATCHES, [100 * r['distinct'][str(B)]['mean'] / r['experts'] for B in BATCHES], 'o-',
                label=f'{name} (top-{r["top_k"]} of {r["experts"]})')
    ax.set_xscale('log', base=2); ax.set_xticks(BATCHES, [str(B) for B in BATCHES])
    ax.set_xlabel('batch (sequences decoded in lockstep)'); ax.set_ylabel('% of experts woken per layer per step')
    ax.set_ylim(0, 100); ax.grid(alpha=0.3); ax.legend(); ax.set_title('distinct experts per decode step (held-out text)')
    fig.tight_layout(); fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--npm-dir', default='/tmp/corpora')
    ap.add_argument('--model', action='append', default=[], help='exported model folder (repeatable)')
    ap.add_argument('--merge', nargs='+', default=None, metavar='JSON',
                    help='no measuring: join earlier --out files into --out (and --plot)')
    ap.add_argument('--out', default='tools/work/routing.json')
    ap.add_argument('--plot', default=None, help='PNG: distinct experts per step against batch, all models')
    ap.add_argument('--pool', type=int, default=64, help='held-out segments for lockstep decode (multiple of 32)')
    ap.add_argument('--steps', type=int, default=64, help='tokens per segment (decode steps after bos)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--max-docs', type=int, default=None, help='quick test: only the first N held-out documents')
    a = ap.parse_args()
    if a.merge:
        parts = [json.load(open(f)) for f in a.merge]
        res = {**parts[0], 'models': {k: v for r in parts for k, v in r['models'].items()}}
        json.dump(res, open(a.out, 'w'), indent=1)
        if a.plot:
            plot(res, a.plot)
        return
    if not a.model:
        ap.error('--model is required (or --merge)')
    torch.set_num_threads(a.threads)
    _, held = split(load_documents(a.npm_dir))
    held = held[:a.max_docs] if a.max_docs else held
    res = {'protocol': __doc__.split('Usage:')[0].strip(), 'pool': a.pool, 'steps': a.steps, 'models': {}}
    for folder in a.model:
        name = os.path.basename(os.path.normpath(folder))
        tok = Tokenizer.from_file(f'{folder}/tokenizer.json')
        bos = tok.token_to_id('<|endoftext|>')
        docs_ids = [tok.encode(t, add_special_tokens=False).ids for _, t in held]
        m = load_f32(folder)
        segs = segment_pool(docs_ids, a.pool, a.steps)
        check_cache_oracle(m, segs, bos)
        r = {'experts': m.config.num_experts, 'top_k': m.config.num_experts_per_tok,
             'gating_mass': gating_mass(m, docs_ids, bos), 'distinct': {}}
        print(f'{name}: top-{r["top_k"]} of {r["experts"]}, gating mass {r["gating_mass"]["mean"]:.3f} '
              f'(uniform {r["gating_mass"]["uniform"]:.3f}) per layer {[round(v, 3) for v in r["gating_mass"]["per_layer"]]}', flush=True)
        for B in BATCHES:
            d = lockstep_distinct(m, segs, bos, B)
            r['distinct'][str(B)] = d
            print(f'  batch {B:2d}: distinct experts per layer per step {d["mean"]:.2f} of {r["experts"]} '
                  f'({100 * d["mean"] / r["experts"]:.1f}%), per layer {[round(v, 2) for v in d["per_layer"]]}', flush=True)
        res['models'][name] = r
    os.makedirs(os.path.dirname(a.out) or '.', exist_ok=True)
    json.dump(res, open(a.out, 'w'), indent=1)
    if a.plot:
        plot(res, a.plot)

if __name__ == '__main__':
    main()
