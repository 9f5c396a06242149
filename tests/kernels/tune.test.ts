import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { measureKernelStyle } from '../../src/kernels/tune.ts';
import { kernelStyle, setKernelStyle } from '../../src/kernels/variants.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { FIXTURE_ROOT, maxAbsDiff } from '../conformance/fixtures.ts';

describe('kernel style per device', () => {
  const gpu = useGpu();

  it('measureKernelStyle times both families and keeps the faster', async () => {
    const g = gpu();
    const m = await measureKernelStyle(g, 3);
    expect(m.ms.blocked).toBeGreaterThan(0);
    expect(m.ms.lanes).toBeGreaterThan(0);
    expect(m.style).toBe(m.ms.blocked <= m.ms.lanes ? 'blocked' : 'lanes');
    expect(kernelStyle(g)).toBe(m.style);
    setKernelStyle(g, 'auto');
  }, 60_000);

  // the whole forward pass with each family forced, against transformers' logits (qwen2_moe: shared
  // expert with fused gate/up, q/k/v biases in the fused projection)
  for (const fixture of ['qwen3_moe', 'qwen2_moe']) {
    for (const kernels of ['blocked', 'lanes'] as const) {
      it(`${fixture} with ${kernels} kernels matches transformers`, async () => {
        const dir = path.join(FIXTURE_ROOT, fixture);
        const p = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')).prompts[0];
        const model = await MoeModel.load(filesFromNodeDir(dir), gpu(), { maxSeqs: 1, maxContext: 64, maxBatchTokens: 32, kernels });
        try {
          const id = model.createSequence();
          const r = await model.forward({ seqs: [{ id, tokens: p.ids }] });
          expect(maxAbsDiff(r.logits![0], p.last_logits)).toBeLessThan(1e-3);
        } finally {
          model.destroy();
          setKernelStyle(gpu(), 'auto');
        }
      }, 60_000);
    }
  }
});
