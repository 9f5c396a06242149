// Calibration: every expert's outputs on WebGPU equal the reference expert FFN, the similarity forms'
// properties, and `webmoe calibrate` end to end on a short slice of training-like text (writes a file the
// engine loads; a calibrated policy then runs).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir, fromNodeFile } from '../../src/format/source-node.ts';
import { resolveSpec } from '../../src/models/index.ts';
import { loadReferenceWeights } from '../../src/reference/model.ts';
import { swigluRef } from '../../src/reference/step.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { AUTO_TARGETS, allExpertOutputs } from '../../src/eval/calibrate.ts';
import { expertSimilarity } from '../../src/routing/similarity.ts';
import { decodeCalibration } from '../../src/routing/calibration.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MODEL = path.join(ROOT, 'models/webmoe-tiny');

describe('calibration', () => {
  const gpu = useGpu();
  it('every expert on every token on WebGPU = the reference expert FFN', async () => {
    const ckpt = await openCheckpoint(filesFromNodeDir(MODEL));
    const spec = await resolveSpec(ckpt);
    const W = await loadReferenceWeights(ckpt, spec);
    const model = await MoeModel.fromCheckpoint(ckpt, spec, gpu(), { maxSeqs: 1, maxContext: 8, maxBatchTokens: 8, calibration: null });
    await ckpt.close();
    try {
      const N = 5;
      const H = spec.hidden;
      const x = randomArray(N * H, 4, 1);
      const out = await allExpertOutputs(model.gpu, model.weights, 1, spec, x, N);
      for (const e of [0, 7, spec.numExperts - 1]) {
        const want = swigluRef(x, W.layers[1].experts![e], N, H);
        const got = new Float32Array(N * H);
        for (let t = 0; t < N; t++) got.set(out.subarray((t * spec.numExperts + e) * H, (t * spec.numExperts + e + 1) * H), t * H);
        expectClose(got, want, 1e-4, 1e-3, `expert ${e}`);
      }
    } finally {
      model.destroy();
    }
  }, 300_000);

  it('similarity forms: symmetric, diagonal 1, in [0, 1], identical experts 1, scaled copy CKA 1', () => {
    const N = 6, H = 5;
    const a = randomArray(N * H, 1);
    const b = randomArray(N * H, 2);
    const s = expertSimilarity([a, a.slice(), a.map((v) => 3 * v), b], N, H);
    for (const kind of ['cka', 'cosine', 'frobenius'] as const) {
      const m = s[kind];
      for (let i = 0; i < 4; i++) {
        expect(m[i * 4 + i]).toBe(1);
        for (let j = 0; j < 4; j++) {
          expect(m[i * 4 + j]).toBeCloseTo(m[j * 4 + i], 6);
          expect(m[i * 4 + j]).toBeGreaterThanOrEqual(-1e-6);
          expect(m[i * 4 + j]).toBeLessThanOrEqual(1 + 1e-6);
        }
      }
      expect(m[1]).toBeCloseTo(1, 5); // a vs its copy
    }
    expect(s.cka[2]).toBeCloseTo(1, 5); // CKA is scale invariant
    expect(s.cosine[2]).toBeCloseTo(1, 5);
    expect(s.frobenius[2]).toBeLessThan(0.9);
    expect(s.cka[3]).toBeLessThan(0.99);
  });

  it('webmoe calibrate writes a file the engine loads; sere and auto then run', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'webmoe-cal-'));
    const out = path.join(dir, 'cal.safetensors');
    // training-like text: the committed calibration slice (training documents, never held-out ones)
    const text = path.join(MODEL, 'eval/calibration-slice.txt');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'calibrate', '--model', MODEL, '--text-file', text, '--out', out,
      '--tokens', '16', '--batch', '2', '--context', '4', '--steps', '2', '--segments', '2', '--alloc-levels', '2', '--mass-levels', '0.9'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
    {
      const ckpt = await openCheckpoint(filesFromNodeDir(MODEL));
      const spec = await resolveSpec(ckpt);
      await ckpt.close();
      const src = await fromNodeFile(out);
      const cal = await decodeCalibration(src, { layers: spec.layers, E: spec.numExperts });
      await src.close?.();
      // auto's reroute was chosen by measurement and its budgets were checked on the combined policy
      expect(['similar', 'refill']).toContain(cal.mass!.reroute);
      expect(cal.auto!.targets).toEqual(AUTO_TARGETS.map(Math.fround));
      cal.auto!.budgets.forEach((b, i) => {
        expect(b).toBeGreaterThanOrEqual(i ? cal.auto!.budgets[i - 1] : 0);
        if (b > 0) expect(cal.auto!.measured[i]).toBeLessThanOrEqual(cal.auto!.targets[i] + 1e-6);
      });
      expect(r.stderr).toMatch(/auto target 0.01: budget/);
    }
    const e = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'eval', '--mode', 'decode', '--model', MODEL, '--calibration', out, '--text-file', path.join(MODEL, 'eval/heldout-slice.txt'),
      '--batch', '2', '--context', '4', '--steps', '2', '--segments', '2', '--policy', 'auto', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    expect(e.status, e.stderr).toBe(0);
    const j = JSON.parse(e.stdout.trim().split('\n').pop()!);
    expect(j.policy).toEqual({ kind: 'auto', maxPerplexityRise: 0.01 });
    expect(j.tokens).toBe(4);
    // a calibrated policy without any calibration file: one clear line that says how to make it
    const m = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'eval', '--mode', 'decode', '--model', MODEL, '--calibration', path.join(dir, 'none.safetensors'),
      '--text-file', path.join(MODEL, 'eval/heldout-slice.txt'), '--batch', '2', '--steps', '1', '--policy', 'sere'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(m.status).not.toBe(0);
    expect(m.stderr).toMatch(/calibration file .*none.safetensors does not exist/);
  }, 600_000);
});

describe('the shipped calibration', () => {
  it('of the default model loads, names its text and settings, and fits the model', async () => {
    const f = path.join(MODEL, 'calibration.safetensors');
    expect(existsSync(f), `${f} (npm run calibrate)`).toBe(true);
    const ckpt = await openCheckpoint(filesFromNodeDir(MODEL));
    const spec = await resolveSpec(ckpt);
    await ckpt.close();
    const src = await fromNodeFile(f);
    const cal = await decodeCalibration(src, { layers: spec.layers, E: spec.numExperts });
    await src.close?.();
    expect(cal.meta.text).toBe('calibration-slice.txt');
    expect(cal.meta.command).toMatch(/webmoe calibrate/);
    expect(cal.alloc?.dloss.length).toBe(spec.layers);
    expect(cal.mass?.distinct?.length).toBe(spec.layers);
    expect(cal.mass?.reroute).toBeDefined();
    expect(cal.auto?.targets).toEqual(AUTO_TARGETS.map(Math.fround));
    for (const kind of ['cka', 'cosine', 'frobenius'] as const) expect(cal.similarity[kind]?.length).toBe(spec.layers);
    expect(readFileSync(f).byteLength).toBeLessThan(2_000_000);
  });
});
