// Where a decode step's time goes: the default model's MoeModel.forward at a few batch sizes, wall
// clock per step (median), then one profiled step per batch size with every dispatch replayed in its
// own compute pass between GPU timestamps, summed by kernel (pipeline label).
//   bash scripts/with-gpu.sh npx tsx bench/profile-step.ts [--batch 1,16] [--steps 5] [--weight-format f32]
// Per-dispatch passes add their own overhead, so the profiled total is larger than the step's wall
// time; the split between kernels is what it is for. Speed claims belong in `npm run bench`.
import { createNodeGpu } from '../src/gpu/node.ts';
import { filesFromNodeDir } from '../src/format/source-node.ts';
import { defaultModelDir } from '../src/default-model.ts';
import { MoeModel } from '../src/runtime/model.ts';
import type { WeightFormat } from '../src/quant/pack.ts';
import { Usage, readBuffer } from '../src/gpu/buffers.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

type Op =
  | { kind: 'pipe'; p: GPUComputePipeline }
  | { kind: 'bind'; i: number; g: GPUBindGroup }
  | { kind: 'dispatch'; x: number; y: number; z: number }
  | { kind: 'indirect'; b: GPUBuffer; o: number };

/** Make the device's command encoders record compute passes and replay each dispatch in its own timed pass. */
function installProfiler(dev: GPUDevice, capacity = 2048) {
  const qs = dev.createQuerySet({ type: 'timestamp', count: capacity * 2 });
  const resolve = dev.createBuffer({ size: capacity * 16, usage: Usage.QUERY_RESOLVE | Usage.COPY_SRC });
  let labels: string[] = [];
  let on = false;
  const orig = dev.createCommandEncoder.bind(dev);
  (dev as unknown as { createCommandEncoder: unknown }).createCommandEncoder = (d?: GPUCommandEncoderDescriptor) => {
    const enc = orig(d);
    if (!on) return enc;
    const begin = enc.beginComputePass.bind(enc);
    (enc as unknown as { beginComputePass: unknown }).beginComputePass = () => {
      const ops: Op[] = [];
      const rec = {
        setPipeline: (p: GPUComputePipeline) => ops.push({ kind: 'pipe', p }),
        setBindGroup: (i: number, g: GPUBindGroup) => ops.push({ kind: 'bind', i, g }),
        dispatchWorkgroups: (x: number, y = 1, z = 1) => ops.push({ kind: 'dispatch', x, y, z }),
        dispatchWorkgroupsIndirect: (b: GPUBuffer, o: number) => ops.push({ kind: 'indirect', b, o }),
        end: () => {
          let pipe: GPUComputePipeline | null = null;
          const binds = new Map<number, GPUBindGroup>();
          for (const op of ops) {
            if (op.kind === 'pipe') pipe = op.p;
            else if (op.kind === 'bind') binds.set(op.i, op.g);
            else {
              const i = labels.length;
              if (i >= capacity) throw new Error('profiler: too many dispatches');
              const label = op.kind === 'dispatch' ? `${pipe!.label} [${op.x}x${op.y}]` : `${pipe!.label} [indirect]`;
              labels.push(label);
              const p = begin({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
              p.setPipeline(pipe!);
              for (const [k, g] of binds) p.setBindGroup(k, g);
              if (op.kind === 'dispatch') p.dispatchWorkgroups(op.x, op.y, op.z);
              else p.dispatchWorkgroupsIndirect(op.b, op.o);
              p.end();
            }
          }
        },
      };
      return rec as unknown as GPUComputePassEncoder;
    };
    return enc;
  };
  return {
    start() {
      labels = [];
      on = true;
    },
    async stop(): Promise<{ label: string; ms: number }[]> {
      on = false;
      const n = labels.length;
      const enc = orig();
      enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
      dev.queue.submit([enc.finish()]);
      const t = new BigUint64Array(await readBuffer(dev, resolve, 16 * n));
      return labels.map((label, i) => ({ label, ms: Number(t[2 * i + 1] - t[2 * i]) / 1e6 }));
    },
  };
}

async function main(): Promise<void> {
  const batches = arg('batch', '1,16').split(',').map(Number);
  const steps = Number(arg('steps', '5'));
  const format = arg('weight-format', 'f32') as WeightFormat;
  const gpu = await createNodeGpu({ onNotice: (l) => console.log(l) });
  console.log(`adapter: ${gpu.describe()}`);
  const maxB = Math.max(...batches);
  const model = await MoeModel.load(filesFromNodeDir(defaultModelDir()), gpu, { weightFormat: format, maxSeqs: maxB, maxContext: 128 });
  const prof = gpu.features.timestamp ? installProfiler(gpu.device) : null;
  for (const B of batches) {
    const seqs = Array.from({ length: B }, () => model.createSequence());
    // short prompts, then decode steps of one token per sequence
    await model.forward({ seqs: seqs.map((id, i) => ({ id, tokens: [1 + i, 2 + i, 3 + i, 4 + i] })), logits: 'none' });
    let toks = seqs.map((_, i) => 5 + i);
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let s = 0; s < steps + 1; s++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await model.forward({ seqs: seqs.map((id, i) => ({ id, tokens: [toks[i]] })), logits: 'none' });
      const c = process.cpuUsage(c0);
      if (s > 0) {
        // first step compiles pipelines
        wall.push(performance.now() - t0);
        cpu.push((c.user + c.system) / 1e3);
      }
      toks = r.next;
    }
    // process CPU time: SwiftShader runs the kernels on this process's threads, so on a shared machine
    // it tracks the work better than wall time does
    console.log(`\nbatch ${B}: decode step ${median(wall).toFixed(1)} ms wall (median of ${steps}; min ${Math.min(...wall).toFixed(1)}), ${median(cpu).toFixed(1)} ms process CPU`);
    if (prof) {
      prof.start();
      await model.forward({ seqs: seqs.map((id, i) => ({ id, tokens: [toks[i]] })), logits: 'none' });
      const rows = await prof.stop();
      const by = new Map<string, { ms: number; n: number }>();
      for (const r of rows) {
        const k = r.label;
        const e = by.get(k) ?? { ms: 0, n: 0 };
        e.ms += r.ms;
        e.n++;
        by.set(k, e);
      }
      const total = rows.reduce((a, r) => a + r.ms, 0);
      console.log(`  ${rows.length} dispatches, ${total.toFixed(1)} ms GPU total (one pass per dispatch)`);
      for (const [k, e] of [...by].sort((a, b) => b[1].ms - a[1].ms)) {
        console.log(`  ${k.padEnd(44)} ${String(e.n).padStart(4)}x ${e.ms.toFixed(2).padStart(9)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`);
      }
    }
    for (const id of seqs) model.freeSequence(id);
  }
  model.destroy();
  await gpu.device.queue.onSubmittedWorkDone();
  gpu.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
