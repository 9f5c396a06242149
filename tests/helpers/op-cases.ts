// One kernel test harness, after llama.cpp's test-backend-ops: a table of cases, each run on the GPU
// and checked against the op's TypeScript reference. Every output (and every buffer the kernel
// updates in place) lives in a buffer with guard words behind it; the whole buffer starts filled with
// a sentinel. After the run:
//   - no guard word changed (nothing written past the output),
//   - no output element still holds the sentinel (every element written),
//   - an output is finite wherever the reference is (NaN/Inf checks), then equal within tolerance
//     (u32 outputs: exactly equal).
// A kernel that needs more than plain buffers (packed weights, a workspace) makes them in encode and
// hands them to `own`, which destroys them after the case.
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/context.ts';
import { STORAGE, Usage, createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { expectClose } from './compare.ts';
import { useGpu } from './gpu.ts';

type Data = Float32Array | Uint32Array;

/** Guard words behind each checked buffer. */
export const GUARD_WORDS = 64;
/** Bits no kernel produces by accident: a NaN with a payload (f32 outputs) or a marker word (u32). */
export const SENTINEL_BITS = 0x7fa5a5a5;

export interface OpCase {
  name: string;
  /** Read-only inputs, uploaded as they are. */
  inputs?: Record<string, Data>;
  /** Buffers the kernel updates in place: initial contents, checked against expected[name] afterwards. */
  inout?: Record<string, Data>;
  /**
   * Output buffers: element count (4-byte words) and element type (default f32); `indirect` adds
   * INDIRECT usage (a buffer the kernel writes dispatch arguments into).
   */
  outputs?: Record<string, number | { n: number; type: 'f32' | 'u32'; indirect?: boolean }>;
  /** Record the kernel into `pass`, with every buffer by name; `own` destroys a resource after the case. */
  encode(gpu: Gpu, pass: GPUComputePassEncoder, b: Record<string, GPUBuffer>, own: <R extends { destroy(): void }>(r: R) => R): void;
  /** The reference result of every output and inout buffer. */
  expected(): Record<string, ArrayLike<number>>;
  /** Per f32 output (or for all): |got - want| <= atol + rtol * |want|; default 1e-5 / 1e-5. */
  atol?: number | Record<string, number>;
  rtol?: number | Record<string, number>;
  /**
   * Buffers without an elementwise reference (packed records of mixed fields): guards and sentinels
   * apply, and `check` compares them.
   */
  checkedBy?: string[];
  /** Extra checks on the read-back outputs (exact zeros, ranges, decoded records, ...). */
  check?(got: Record<string, Float32Array | Uint32Array>): void;
}

const pick = (v: number | Record<string, number> | undefined, name: string, dflt: number) =>
  typeof v === 'number' ? v : (v?.[name] ?? dflt);

/** A buffer of `words` 4-byte elements plus guards, all set to the sentinel unless `init` is given. */
function guarded(gpu: Gpu, words: number, init: Data | null, label: string, usage = STORAGE): GPUBuffer {
  const all = new Uint32Array(words + GUARD_WORDS).fill(SENTINEL_BITS);
  if (init) all.set(new Uint32Array(init.buffer, init.byteOffset, init.length));
  return createStorage(gpu.device, all, label, usage);
}

/** Run one case on `gpu`; throws (via expect) on any mismatch. */
export async function runOpCase(gpu: Gpu, c: OpCase): Promise<void> {
  const b: Record<string, GPUBuffer> = {};
  const owned: { destroy(): void }[] = [];
  const own = <R extends { destroy(): void }>(r: R): R => (owned.push(r), r);
  const checked: [string, number, 'f32' | 'u32'][] = [];
  for (const [k, v] of Object.entries(c.inputs ?? {})) b[k] = createStorage(gpu.device, v, k);
  for (const [k, v] of Object.entries(c.inout ?? {})) {
    b[k] = guarded(gpu, v.length, v, k);
    checked.push([k, v.length, v instanceof Uint32Array ? 'u32' : 'f32']);
  }
  for (const [k, spec] of Object.entries(c.outputs ?? {})) {
    const { n, type, indirect } = typeof spec === 'number' ? { n: spec, type: 'f32' as const, indirect: false } : spec;
    b[k] = guarded(gpu, n, null, k, indirect ? STORAGE | Usage.INDIRECT : STORAGE);
    checked.push([k, n, type]);
  }
  try {
    await runPass(gpu, (pass) => c.encode(gpu, pass, b, own));
    const want = c.expected();
    const got: Record<string, Float32Array | Uint32Array> = {};
    for (const [k, n, type] of checked) {
      const raw = new Uint32Array(await readBuffer(gpu.device, b[k], (n + GUARD_WORDS) * 4));
      const guard = raw.subarray(n).findIndex((w) => w !== SENTINEL_BITS);
      expect(guard, `${k}: guard word ${guard} after the ${n} output elements was overwritten`).toBe(-1);
      const words = raw.slice(0, n);
      const unwritten = c.outputs && k in c.outputs ? words.findIndex((w) => w === SENTINEL_BITS) : -1;
      expect(unwritten, `${k}[${unwritten}] was never written`).toBe(-1);
      const vals = type === 'u32' ? words : new Float32Array(words.buffer);
      got[k] = vals;
      if (c.checkedBy?.includes(k)) {
        expect(c.check, `'${k}' is checked by check(), which is missing`).toBeDefined();
        continue;
      }
      const ref = want[k];
      expect(ref, `expected() gives no '${k}'`).toBeDefined();
      if (type === 'u32') {
        expect(ref.length, `${k}: length`).toBe(n);
        const bad = Array.from(ref).findIndex((r, i) => vals[i] !== r);
        if (bad >= 0) expect.fail(`${k}[${bad}]: got ${vals[bad]}, expected ${ref[bad]} (u32: exact)`);
        continue;
      }
      for (let i = 0; i < n; i++) {
        if (Number.isFinite(ref[i]) && !Number.isFinite(vals[i])) expect.fail(`${k}[${i}] is ${vals[i]}, the reference ${ref[i]}`);
      }
      expectClose(vals, ref, pick(c.atol, k, 1e-5), pick(c.rtol, k, 1e-5), k);
    }
    c.check?.(got);
  } finally {
    for (const buf of Object.values(b)) buf.destroy();
    for (const r of owned) r.destroy();
  }
}

/** A describe block with one test per case, on the file's shared device. */
export function describeOpCases(title: string, cases: OpCase[] | (() => OpCase[])): void {
  describe(title, () => {
    const gpu = useGpu();
    for (const c of typeof cases === 'function' ? cases() : cases) it(c.name, () => runOpCase(gpu(), c));
  });
}
