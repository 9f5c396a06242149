// Paths no HF fixture exercises, checked GPU vs the plain TS reference (itself checked against HF):
// dense layers (mlp_only_layers), a residual multiplier with dense layers, tied embeddings on qwen3,
// fused expert tensors, a sliding window, yarn RoPE.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { randomArray } from '../helpers/compare.ts';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/format/safetensors-writer.ts';
import { resolveSpec } from '../../src/models/index.ts';
import { loadReferenceWeights, referenceForward } from '../../src/reference/model.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { FIXTURE_ROOT, maxAbsDiff } from './fixtures.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'webmoe-variants-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readTensors(file: string): Record<string, TensorToWrite> {
  const b = readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
  const out: Record<string, TensorToWrite> = {};
  for (const [k, v] of Object.entries(h) as [string, { dtype: TensorToWrite['dtype']; shape: number[]; data_offsets: [number, number] }][]) {
    if (k === '__metadata__') continue;
    out[k] = { dtype: v.dtype, shape: v.shape, data: new Uint8Array(b.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1])) };
  }
  return out;
}

const f32 = (shape: number[], seed: number, scale = 0.2): TensorToWrite => {
  const a = randomArray(shape.reduce((x, y) => x * y, 1), seed, scale);
  return { dtype: 'F32', shape, data: new Uint8Array(a.buffer) };
};

/** qwen3_moe fixture with layer 0 made dense (new random gate/up/down), optional config overrides. */
function variant(name: string, edit: (cfg: Record<string, unknown>, t: Record<string, TensorToWrite>) => void, base = 'qwen3_moe'): string {
  const src = path.join(FIXTURE_ROOT, base);
  const cfg = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8'));
  const t = readTensors(path.join(src, 'model.safetensors'));
  edit(cfg, t);
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(t));
  return dir;
}

const denseLayer0 = (cfg: Record<string, unknown>, t: Record<string, TensorToWrite>) => {
  cfg.mlp_only_layers = [0];
  const H = cfg.hidden_size as number;
  const I = cfg.intermediate_size as number;
  for (const k of Object.keys(t)) if (k.startsWith('model.layers.0.mlp.')) delete t[k];
  t['model.layers.0.mlp.gate_proj.weight'] = f32([I, H], 1);
  t['model.layers.0.mlp.up_proj.weight'] = f32([I, H], 2);
  t['model.layers.0.mlp.down_proj.weight'] = f32([H, I], 3);
};

/** Per-expert tensors -> mlp.experts.gate_up_proj [E, 2I, H] (gate rows, then up) and down_proj [E, H, I]. */
const fuseExperts = (cfg: Record<string, unknown>, t: Record<string, TensorToWrite>) => {
  const E = cfg.num_experts as number;
  for (let l = 0; l < (cfg.num_hidden_layers as number); l++) {
    const p = `model.layers.${l}.mlp.experts`;
    const take = (k: string) => {
      const v = t[k];
      delete t[k];
      return v;
    };
    const gu: Uint8Array[] = [];
    const dn: Uint8Array[] = [];
    for (let e = 0; e < E; e++) {
      gu.push(take(`${p}.${e}.gate_proj.weight`).data, take(`${p}.${e}.up_proj.weight`).data);
      dn.push(take(`${p}.${e}.down_proj.weight`).data);
    }
    const cat = (a: Uint8Array[]) => Uint8Array.from(Buffer.concat(a));
    const I = cfg.moe_intermediate_size as number;
    const H = cfg.hidden_size as number;
    t[`${p}.gate_up_proj`] = { dtype: 'F32', shape: [E, 2 * I, H], data: cat(gu) };
    t[`${p}.down_proj`] = { dtype: 'F32', shape: [E, H, I], data: cat(dn) };
  }
};

describe('GPU forward vs reference on synthetic variants', () => {
  const gpu = useGpu();
  type Edit = (c: Record<string, unknown>, t: Record<string, TensorToWrite>) => void;
  const cases: [string, Edit, string?][] = [
    ['dense layer 0 (mlp_only_layers)', denseLayer0],
    ['tied embeddings', (c, t) => { c.tie_word_embeddings = true; delete t['lm_head.weight']; }],
    ['fused transformers-5 expert tensors', fuseExperts],
    // the reference's window was checked once against transformers (same config, |diff| < 4e-6)
    ['mixtral sliding_window 3', (c) => { c.sliding_window = 3; }, 'mixtral'],
    // Qwen3's long-context setting (its model card); the yarn tables are checked against transformers in tests/kernels/rope.test.ts
    ['yarn rope_scaling', (c) => { c.rope_scaling = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4 }; }],
  ];
  for (const [name, edit, base] of cases) {
    it(name, async () => {
      const dir = variant(name.replace(/\W+/g, '_'), edit, base);
      const ckpt = await openCheckpoint(filesFromNodeDir(dir));
      const spec = await resolveSpec(ckpt);
      const W = await loadReferenceWeights(ckpt, spec);
      await ckpt.close();
      const model = await MoeModel.load(filesFromNodeDir(dir), gpu(), { maxSeqs: 2, maxContext: 32, maxBatchTokens: 16 });
      try {
        const ids = [3, 14, 15, 92, 65, 35, 89];
        const want = referenceForward(spec, W, ids);
        const id = model.createSequence();
        const r = await model.forward({ seqs: [{ id, tokens: ids }], logits: 'all' });
        const V = spec.vocabSize;
        want.forEach((w, t) => expect(maxAbsDiff(r.logits![0].subarray(t * V, (t + 1) * V), w), `position ${t}`).toBeLessThan(1e-4));
        if (name.startsWith('fused')) {
          // same weights as the qwen3_moe fixture, only stored fused: HF's logits still apply
          const p = JSON.parse(readFileSync(path.join(FIXTURE_ROOT, 'qwen3_moe', 'expected.json'), 'utf8')).prompts[0];
          const b = model.createSequence();
          const r2 = await model.forward({ seqs: [{ id: b, tokens: p.ids }] });
          expect(maxAbsDiff(r2.logits![0], p.last_logits)).toBeLessThan(1e-3);
        }
      } finally {
        model.destroy();
      }
    }, 60_000);
  }
});
