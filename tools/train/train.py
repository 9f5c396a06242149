"""Train the embedded default model with transformers' own Qwen3MoeForCausalLM on CPU.

Model (model_config below): vocab 8192, hidden 256, 4 layers, 4 query heads / 2 kv heads of 64,
32 experts x moe_intermediate 128 per layer, top-4 routing with norm_topk_prob, every layer sparse,
tied embeddings, RoPE theta 10000, max 1024 positions, router load-balancing loss (coef 0.01) on.
--experts / --top-k / --moe-intermediate / --norm-topk-prob / --aux-coef change the MoE layers of a
new model (webmoe-mini: --experts 128 --top-k 8 --moe-intermediate 32, the same expert parameter count).

Data: the training documents (tools/train/corpus.py), each prefixed by <|endoftext|>, as one token
stream; a batch is B random windows of L tokens from that stream (labels = inputs; the model
shifts). Held-out loss: the first 60 non-overlapping 128-token windows of the held-out stream.

Optimiser: AdamW (betas 0.9/0.95, weight decay 0.1), grad-norm clip 1.0, linear warm-up then cosine
decay to 10% of the peak; the cosine horizon is budget-minutes x --tokens-per-second / (B x L)
steps (after it, the rate stays at 10%). The run stops when the wall-clock budget is spent.

Load balancing: transformers' aux loss (config router_aux_loss_coef 0.01, pooled over layers) plus a
per-layer Switch-style term (--balance-per-layer, see per_layer_balance), which keeps every layer's
experts alive. --revive-dead F (with --init) first turns starved experts into noisy copies of busy ones.
The logged loss is the language-model loss + transformers' aux term (out.loss).

Checkpoints: OUT/ckpt/ (save_pretrained, fp32) + OUT/ckpt/state.pt (model, optimiser, step, elapsed
time, RNG) every --ckpt-minutes and at the end; --resume continues from state.pt with the same
budget (elapsed time counts). --init starts a new run (new optimiser) from a save_pretrained folder.
Final fp16 weights: OUT/final/ (+ train_stats.json); the weights with the lowest held-out loss so
far: OUT/best/ (fp32, + best.json). Log: OUT/log.csv
(step,time,loss,heldout,lr,tok_s,balance,min_share; heldout only on evaluation steps; min_share = the
smallest expert share x E over layers in that batch, 1 = uniform).

Usage:
  python tools/train/train.py --npm-dir /tmp/corpora --tokenizer models/webmoe-mini/tokenizer.json \\
      --out tools/work/run --budget-minutes 55
  (add --resume after an interruption)
"""
import argparse, copy, json, math, os, random, sys, time
import torch
from tokenizers import Tokenizer
from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

sys.path.insert(0, os.path.dirname(__file__))
from corpus import load_documents, split  # noqa: E402
from tokenizer import EOT, PAD, train_tokenizer  # noqa: E402


def encode(tok, docs):
    eot = tok.token_to_id(EOT)
    ids = []
    for _, t in docs:
        ids += [eot] + tok.encode(t).ids
    return torch.tensor(ids)


def model_config(tok, dropout=0.0, experts=32, top_k=4, moe_intermediate=128, norm_topk_prob=True, aux_coef=0.01):
    """The default shape is webmoe-tiny's; --experts/--top-k/--moe-intermediate change only the MoE layers."""
    eot = tok.token_to_id(EOT)
    return Qwen3MoeConfig(
        vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        head_dim=64, intermediate_size=512, moe_intermediate_size=moe_intermediate, num_experts=experts,
        num_experts_per_tok=top_k, norm_topk_prob=norm_topk_prob, decoder_sparse_step=1, mlp_only_layers=[],
        tie_word_embeddings=True, max_position_embeddings=1024, rope_theta=10000.0, rms_norm_eps=1e-6,
        output_router_logits=True, router_aux_loss_coef=aux_coef, attention_dropout=dropout,
        bos_token_id=eot, eos_token_id=eot, pad_token_id=tok.token_to_id(PAD))


def per_layer_balance(router_logits, k):
    """Switch-style load-balancing loss computed for each layer on its own and averaged over layers:
    E * sum_e f_e * P_e with f_e = share of the layer's top-k assignments going to expert e and P_e =
    the layer's mean router probability of e (1.0 when balanced). transformers' own aux loss pools
    the counts of all layers before multiplying, so it cannot see one layer starving an expert that
    another layer uses; this term can. Also returns the smallest share (x E) over layers."""
    losses, min_share = [], float('inf')
    for rl in router_logits:
        E = rl.shape[-1]
        p = torch.softmax(rl.float(), dim=-1)
        f = torch.bincount(p.topk(k, dim=-1).indices.flatten(), minlength=E).float() / (p.shape[0] * k)
        losses.append(E * (f * p.mean(0)).sum())
        min_share = min(min_share, (f.min() * E).item())
    return torch.stack(losses).mean(), min_share


@torch.no_grad()
def upcycle_fine_grained(src, split, top_k, noise=0.01):
    """Fine-grained upcycling (as Qwen1.5-MoE was built from a dense model): every expert of the trained
    model `src` (a save_pretrained folder) is cut into `split` experts along its intermediate dimension
    (gate/up rows and down columns j*I/split..(j+1)*I/split). A part's router probability is a
    1/split share of the old expert's, so its down projection is scaled by split: with top-k = split x
    the old k the model computes exactly the old one. Each part's router row is the old row plus `noise` x its std of Gaussian noise, so
    the parts of one expert start with (nearly) the old expert's probability split evenly and then
    diverge. Everything else is copied. Returns a model with split x E experts of width I/split and
    top-k `top_k`."""
    old = Qwen3MoeForCausalLM.from_pretrained(src, dtype=torch.float32)
    c = old.config
    if c.moe_intermediate_size % split:
        raise ValueError(f'--upcycle-split {split} does not divide moe_intermediate_size {c.moe_intermediate_size} of {src}')
    cfg = copy.deepcopy(c)
    cfg.num_experts, cfg.num_experts_per_tok = c.num_experts * split, top_k
    cfg.moe_intermediate_size = c.moe_intermediate_size // split
    m = Qwen3MoeForCausalLM(cfg)
    sd = {k: v for k, v in old.state_dict().items() if '.mlp.' not in k}
    missing = m.load_state_dict(sd, strict=False).missing_keys
    I, Is = c.moe_intermediate_size, c.moe_intermediate_size // split
    for lo, ln in zip(old.model.layers, m.model.layers):
        gu, dn, gw = lo.mlp.experts.gate_up_proj, lo.mlp.experts.down_proj, lo.mlp.gate.weight  # [E,2I,H], [E,H,I], [E,H]
        for e in range(c.num_experts):
            for j in range(split):
                n = e * split + j
                ln.mlp.experts.gate_up_proj[n] = torch.cat([gu[e, j * Is:(j + 1) * Is], gu[e, I + j * Is:I + (j + 1) * Is]])
                ln.mlp.experts.down_proj[n] = split * dn[e, :, j * Is:(j + 1) * Is]
                ln.mlp.gate.weight[n] = gw[e] + noise * gw[e].std() * torch.randn_like(gw[e])
    assert all('.mlp.' in k for k in missing), missing
    print(f'upcycled {src}: {c.num_experts} experts x {I} -> {cfg.num_experts} x {Is}, top-{top_k}', flush=True)
    return m


@torch.no_grad()
def revive_dead_experts(m, tr_ids, B, L, batches=8, threshold=0.1, noise=0.05):
    """Experts whose share of top-k assignments on `batches` training batches is below threshold/E
    become copies of the layer's busiest expert (expert weights and router row, plus `noise` relative
    Gaussian noise so the two diverge); the busy expert's load is then split between them."""
    m.eval()
    k, E = m.config.num_experts_per_tok, m.config.num_experts
    layers = m.model.layers
    counts = torch.zeros(len(layers), E)
    for _ in range(batches):
        ix = torch.randint(0, len(tr_ids) - L - 1, (B,))
        out = m(input_ids=torch.stack([tr_ids[i:i + L] for i in ix]), output_router_logits=True)
        for li, rl in enumerate(out.router_logits):
            counts[li] += torch.bincount(rl.topk(k, dim=-1).indices.flatten(), minlength=E).float()
    share = counts / counts.sum(1, keepdim=True)
    revived = []
    for li, layer in enumerate(layers):
        moe = layer.mlp
        for e in [int(i) for i in (share[li] < threshold / E).nonzero().flatten()]:
            d = int(share[li].argmax())
            for w in (moe.experts.gate_up_proj, moe.experts.down_proj, moe.gate.weight):
                w[e] = w[d] + noise * w[d].std() * torch.randn_like(w[d])
            share[li, e] = share[li, d] = share[li, d] / 2
            revived.append((li, e, d))
    m.train()
    print('revived (layer, expert, copied from):', revived, flush=True)
    return revived


def heldout_loss(m, he_ids, L, n=60):
    m.eval()
    with torch.no_grad():
        ls = [m(input_ids=he_ids[i:i + L][None], labels=he_ids[i:i + L][None]).loss.item()
              for i in range(0, min(len(he_ids) - L, n * L), L)]
    m.train()
    return sum(ls) / len(ls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--npm-dir', default='/tmp/corpora')
    ap.add_argument('--out', default='tools/work/run')
    ap.add_argument('--tokenizer', default=None, help='tokenizer.json to use (default: train one, as tokenizer.py does)')
    ap.add_argument('--budget-minutes', type=float, default=55)
    ap.add_argument('--max-steps', type=int, default=None, help='also stop after this many steps')
    ap.add_argument('--resume', action='store_true', help='continue OUT/ckpt/state.pt')
    ap.add_argument('--init', default=None, help='start from these weights (a save_pretrained folder), new optimiser')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--seq', type=int, default=128)
    ap.add_argument('--lr', type=float, default=1e-3, help='peak learning rate')
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--tokens-per-second', type=float, default=2900, help='sets the cosine horizon from the budget')
    ap.add_argument('--dropout', type=float, default=0.0, help='attention dropout (new models only)')
    # model shape (new models only; --init/--resume take the shape from the checkpoint)
    ap.add_argument('--experts', type=int, default=32, help='experts per layer (num_experts)')
    ap.add_argument('--top-k', type=int, default=4, help='experts per token (num_experts_per_tok)')
    ap.add_argument('--moe-intermediate', type=int, default=128, help='expert SwiGLU width (moe_intermediate_size)')
    ap.add_argument('--norm-topk-prob', type=int, default=1, choices=(0, 1), help='renormalise the top-k gates (1)')
    ap.add_argument('--upcycle-from', default=None, metavar='FOLDER',
                    help='start from this trained model with each expert cut into --upcycle-split experts (new optimiser)')
    ap.add_argument('--upcycle-split', type=int, default=4)
    ap.add_argument('--aux-coef', type=float, default=0.01, help="transformers' router_aux_loss_coef (0: off)")
    ap.add_argument('--balance-per-layer', type=float, default=0.02,
                    help='coefficient of the per-layer load-balancing loss (added to transformers\' own aux loss)')
    ap.add_argument('--revive-dead', type=float, default=0.0, metavar='FRACTION',
                    help='before training, turn experts with less than FRACTION of a uniform share (e.g. 0.25) '
                         'into noisy copies of busy ones (0: off)')
    ap.add_argument('--eval-every', type=int, default=500)
    ap.add_argument('--ckpt-minutes', type=float, default=5)
    a = ap.parse_args()
    torch.manual_seed(a.seed); random.seed(a.seed); torch.set_num_threads(a.threads)
    os.makedirs(f'{a.out}/ckpt', exist_ok=True)
    train, held = split(load_documents(a.npm_dir))
    tok_path = f'{a.out}/tokenizer.json'
    if a.tokenizer:
        tok = Tokenizer.from_file(a.tokenizer)
        tok.save(tok_path)
    elif a.resume:
        tok = Tokenizer.from_file(tok_path)
    else:
        tok = train_tokenizer([t for _, t in train])
        tok.save(tok_path)
    tr_ids, he_ids = encode(tok, train), encode(tok, held)
    print('tokens', len(tr_ids), len(he_ids), flush=True)
    if a.init or a.resume:  # a resumed run keeps its own shape (OUT/ckpt/config.json); state.pt then sets the weights
        m = Qwen3MoeForCausalLM.from_pretrained(f'{a.out}/ckpt' if a.resume else a.init, dtype=torch.float32)
    elif a.upcycle_from:
        m = upcycle_fine_grained(a.upcycle_from, a.upcycle_split, a.top_k)
    else:
        m = Qwen3MoeForCausalLM(model_config(tok, a.dropout, a.experts, a.top_k, a.moe_intermediate,
                                             bool(a.norm_topk_prob), a.aux_coef))
    m.train()
    n_params = sum(p.numel() for p in m.parameters())
    print('params', n_params, 'experts implementation', getattr(m.config, '_experts_implementation', None), flush=True)
    if a.revive_dead and not a.resume:
        revive_dead_experts(m, tr_ids, a.batch, a.seq, threshold=a.revive_dead)
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=0.1, betas=(0.9, 0.95))
    B, L = a.batch, a.seq
    budget = a.budget_minutes * 60
    est_steps = int(budget * a.tokens_per_second / (B * L))
    step, elapsed0 = 0, 0.0
    if a.resume:
        st = torch.load(f'{a.out}/ckpt/state.pt', weights_only=False)
        m.load_state_dict(st['model']); opt.load_state_dict(st['opt']); step = st['step']; elapsed0 = st['elapsed']
        torch.set_rng_state(st['rng'])
        print('resumed at step', step, f'{elapsed0:.0f}s', flush=True)

    def lr_at(s):
        if s < a.warmup:
            return a.lr * s / a.warmup
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1, s / est_steps))))

    def checkpoint():
        m.save_pretrained(f'{a.out}/ckpt', safe_serialization=True)
        tmp = f'{a.out}/ckpt/state.pt.tmp'
        torch.save({'model': m.state_dict(), 'opt': opt.state_dict(), 'step': step,
                    'elapsed': time.time() - t0, 'rng': torch.get_rng_state()}, tmp)
        os.replace(tmp, f'{a.out}/ckpt/state.pt')

    new_log = not (a.resume and os.path.exists(f'{a.out}/log.csv'))
    log = open(f'{a.out}/log.csv', 'w' if new_log else 'a')
    if new_log:
        log.write('step,time,loss,heldout,lr,tok_s,balance,min_share\n')
    if new_log:  # the starting point's held-out loss (step 0; matters for --init / --upcycle-from)
        log.write(f'0,0,,{heldout_loss(m, he_ids, L)},,,,\n'); log.flush()
    t0 = time.time() - elapsed0
    last_ckpt, win_t, win_s, best = time.time(), time.time(), step, float('inf')
    while time.time() - t0 < budget and (a.max_steps is None or step < a.max_steps):
        lr = lr_at(step)
        for g in opt.param_groups:
            g['lr'] = lr
        ix = torch.randint(0, len(tr_ids) - L - 1, (B,))
        x = torch.stack([tr_ids[i:i + L] for i in ix])
        out = m(input_ids=x, labels=x)
        bal, min_share = per_layer_balance(out.router_logits, m.config.num_experts_per_tok)
        (out.loss + a.balance_per_layer * bal).backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step(); opt.zero_grad(); step += 1
        if step % 50 == 0:
            he = heldout_loss(m, he_ids, L) if step % a.eval_every == 0 else ''
            if he != '' and he < best:  # guard against overfitting: keep the best held-out weights too
                best = he
                m.save_pretrained(f'{a.out}/best', safe_serialization=True)
                json.dump({'step': step, 'heldout_loss': he}, open(f'{a.out}/best/best.json', 'w'))
            tps = (step - win_s) * B * L / (time.time() - win_t)
            win_t, win_s = time.time(), step
            log.write(f'{step},{time.time() - t0:.0f},{out.loss.item():.4f},{he},{lr:.3g},{tps:.0f},{bal.item():.4f},{min_share:.3f}\n'); log.flush()
            print(step, f'{time.time() - t0:.0f}s', f'loss {out.loss.item():.4f}', f'heldout {he}', f'{tps:.0f} tok/s',
                  f'balance {bal.item():.3f} min share x E {min_share:.3f}', flush=True)
        if time.time() - last_ckpt > a.ckpt_minutes * 60:
            checkpoint(); last_ckpt = time.time()
    checkpoint()
    he = heldout_loss(m, he_ids, L)
    log.write(f'{step},{time.time() - t0:.0f},{out.loss.item():.4f},{he},{lr_at(step):.3g},,,\n'); log.close()
    m.to(torch.float16).save_pretrained(f'{a.out}/final', safe_serialization=True)
    json.dump({'steps': step, 'tokens': step * B * L, 'seconds': round(time.time() - t0), 'params': n_params,
               'final_heldout_loss': he}, open(f'{a.out}/final/train_stats.json', 'w'))
    print('done', step, 'steps', step * B * L, 'tokens', flush=True)


if __name__ == '__main__':
    main()
