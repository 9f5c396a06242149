// Real-size models: a layer whose experts exceed one storage binding is split into several expert
// buffers (the grouped FFN runs once per chunk); what cannot fit is refused before any allocation.
// Synthetic checkpoint made here (qwen3_moe layout of the HF fixture, fresh random weights), with the
// binding limit lowered through the maxBindingBytes test option.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { randomArray } from '../helpers/compare.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/format/safetensors-writer.ts';
import { MoeModel, type LoadOptions } from '../../src/runtime/model.ts';
import { setKernelStyle } from '../../src/kernels/variants.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { FIXTURE_ROOT } from '../conformance/fixtures.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'webmoe-split-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The qwen3_moe fixture's config and tensor names/shapes (E = 8, H = 32, I = 16), random f32 values. */
function syntheticCheckpoint(): string {
  const src = path.join(FIXTURE_ROOT, 'qwen3_moe');
  const b = readFileSync(path.join(src, 'model.safetensors'));
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { shape: number[] }>;
  const t: Record<string, TensorToWrite> = {};
  let seed = 1;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const a = randomArray(v.shape.reduce((x, y) => x * y, 1), seed++, name.includes('norm') ? 1 : 0.3);
    if (name.includes('norm')) for (let i = 0; i < a.length; i++) a[i] = 1 + 0.1 * a[i];
    t[name] = { dtype: 'F32', shape: v.shape, data: new Uint8Array(a.buffer) };
  }
  const dir = path.join(tmp, 'synthetic');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(src, 'config.json')));
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(t));
  return dir;
}

async function run(gpu: Gpu, dir: string, opts: LoadOptions) {
  const model = await MoeModel.load(filesFromNodeDir(dir), gpu, { maxSeqs: 2, maxContext: 16, maxBatchTokens: 16, ...opts });
  try {
    const a = model.createSequence();
    const b = model.createSequence();
    const r = await model.forward({ seqs: [{ id: a, tokens: [3, 14, 15, 92, 65] }, { id: b, tokens: [35, 89, 7] }], logits: 'all' });
    const d = await model.forward({ seqs: [{ id: a, tokens: [r.next[0]] }, { id: b, tokens: [r.next[1]] }], logits: 'last' });
    const e = model.weights.layers[0].experts!;
    return { logits: [...r.logits!, ...d.logits!].map((x) => Array.from(x)), chunks: e.chunks.map((c) => [c.eBase, c.eEnd]) };
  } finally {
    model.destroy();
  }
}

describe('expert weights split across buffers when one binding is too small', () => {
  const gpu = useGpu();
  const dir = syntheticCheckpoint();
  // One expert's gate/up rows: f32 2I x H x 4 = 4 KiB (8 experts 32 KiB); int8 1 KiB + 128 bytes of scales.
  // The limit must still hold the fused q|k|v weight (f32 16 KiB, int8 4.5 KiB) and the f16 embedding
  // table (6 KiB): f32 at 16.1 KiB takes 4 experts per buffer, int8 at 6200 bytes 5 (balanced: 4 + 4).
  const caps = { f32: 16384 + 100, int8: 6200 };

  for (const style of ['blocked', 'lanes'] as const) {
    for (const weightFormat of ['f32', 'int8'] as const) {
      it(`${weightFormat}, ${style} kernels: split into chunks gives exactly the unsplit logits`, async () => {
        const g = gpu();
        setKernelStyle(g, style);
        try {
          const whole = await run(g, dir, { weightFormat });
          expect(whole.chunks).toEqual([[0, 8]]);
          // the embedding table and lm head (96 x 32 f32 = 12 KiB) still fit the lowered limit
          const split = await run(g, dir, { weightFormat, maxBindingBytes: caps[weightFormat] });
          expect(split.chunks).toEqual([[0, 4], [4, 8]]);
          expect(split.logits).toEqual(whole.logits);
        } finally {
          setKernelStyle(g, 'auto');
        }
      }, 60_000);
    }
  }

  /** Load with every createBuffer counted. */
  async function countBuffers(g: Gpu, opts: LoadOptions): Promise<{ error: Error; buffers: number }> {
    const dev = g.device as unknown as { createBuffer: (d: GPUBufferDescriptor) => GPUBuffer };
    const orig = dev.createBuffer;
    let buffers = 0;
    dev.createBuffer = (d) => {
      buffers++;
      return orig.call(g.device, d);
    };
    try {
      await MoeModel.load(filesFromNodeDir(dir), g, { maxSeqs: 2, maxContext: 16, ...opts });
      throw new Error('loaded');
    } catch (error) {
      return { error: error as Error, buffers };
    } finally {
      dev.createBuffer = orig;
    }
  }

  it('one expert larger than a binding: refused before any allocation, with the size and the limit', async () => {
    const r = await countBuffers(gpu(), { maxBindingBytes: 3000 });
    expect(r.error.message).toMatch(/one expert of 'model\.layers\.0\.mlp\.experts\.0\.gate_proj\.weight' \(gate\+up \[32, 32\] or down \[32, 16\]\) needs 4\.0 KiB in one GPU buffer as f32, over this device's binding limit of 2\.9 KiB/);
    expect(r.buffers).toBe(0);
    // one expert per buffer would do, but the fused q|k|v weight [128, 32] cannot be split
    const r2 = await countBuffers(gpu(), { maxBindingBytes: 5000 });
    expect(r2.error.message).toMatch(/tensor 'model\.layers\.0\.self_attn\.q_proj\.weight' with k and v needs 16\.0 KiB in one GPU buffer as f32, over this device's binding limit of 4\.9 KiB/);
    expect(r2.buffers).toBe(0);
  });

  it('a memory budget below what the model needs: refused before any allocation, with both numbers', async () => {
    const r = await countBuffers(gpu(), { memoryBudget: 100_000 });
    expect(r.error.message).toMatch(/needs [0-9.]+ KiB of GPU memory \(weights [0-9.]+ KiB as f32, KV cache 16\.0 KiB\), over the memory budget of 97\.7 KiB/);
    expect(r.buffers).toBe(0);
    // and a budget that fits loads
    const m = await MoeModel.load(filesFromNodeDir(dir), gpu(), { maxSeqs: 2, maxContext: 16, memoryBudget: 2 ** 21 });
    expect(m.weights.bytes).toBeLessThan(2 ** 21);
    m.destroy();
  });
});
