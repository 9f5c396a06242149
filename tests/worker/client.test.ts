import { describe, it, expect } from 'vitest';
import * as Comlink from 'comlink';
import { WorkerEngine, WorkerDiedError, type WorkerLike } from '../../src/worker/client.ts';
import { EngineDisposedError } from '../../src/api/errors.ts';
import type { WorkerApi } from '../../src/worker/protocol.ts';
import type { GenerateChunk } from '../../src/api/types.ts';

/** A Worker stand-in: comlink over a MessageChannel to an in-process api; `crash()` fires the error a dying worker fires. */
class FakeWorker extends EventTarget implements WorkerLike {
  readonly port: MessagePort;
  terminated = false;
  constructor(api: Partial<WorkerApi>) {
    super();
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(api, port2);
    this.port = port1;
    port1.addEventListener('message', (e) => this.dispatchEvent(new MessageEvent('message', { data: (e as MessageEvent).data })));
    port1.start();
  }
  postMessage(msg: unknown, transfer?: Transferable[]): void {
    if (!this.terminated) this.port.postMessage(msg, (transfer ?? []) as never);
  }
  terminate(): void {
    this.terminated = true;
    this.port.close();
  }
  crash(message: string): void {
    this.dispatchEvent(Object.assign(new Event('error'), { message }));
  }
}

const never = <T,>() => new Promise<T>(() => {});

describe('WorkerEngine when its worker dies', () => {
  it('rejects every pending call (load, generate) instead of hanging, and every later call at once', async () => {
    let chunks = 0;
    const w = new FakeWorker({
      load: () => never(),
      async generate(_id, _p, _o, onChunk: (c: GenerateChunk) => void) {
        await onChunk({ text: 'a', token: 1 });
        chunks++;
        return never();
      },
      onStep: () => never(),
      cancel() {},
    });
    const e = new WorkerEngine(w);
    const load = e.load({ model: 'x/' });
    const g1 = e.generate('hi');
    const g2 = e.generate('there');
    const it1 = g1[Symbol.asyncIterator]();
    expect((await it1.next()).value).toEqual({ text: 'a', token: 1 });
    while (chunks < 2) await new Promise((r) => setTimeout(r, 1));
    w.crash('out of memory');
    await expect(load).rejects.toThrow(WorkerDiedError);
    await expect(g1.result).rejects.toThrow(/engine worker died \(error event: out of memory\)/);
    await expect(it1.next()).rejects.toThrow(WorkerDiedError);
    await expect(g2.result).rejects.toThrow(WorkerDiedError);
    expect(w.terminated).toBe(true);
    expect(e.isDead).toBe(true);
    await expect(e.generate('later').result).rejects.toThrow(WorkerDiedError);
    await expect(e.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], model: undefined })).rejects.toThrow(/load\(\) has not finished|WorkerDied/);
    const ac = new AbortController();
    e.generate('x', { signal: ac.signal });
    ac.abort(); // no RPC to a dead worker, no throw
  });

  it('a message that cannot be deserialised also counts as death', async () => {
    const w = new FakeWorker({ load: () => never() });
    const e = new WorkerEngine(w);
    const p = e.load({ model: 'x/' });
    w.dispatchEvent(new Event('messageerror'));
    await expect(p).rejects.toThrow(/could not be deserialised/);
  });

  it('after dispose every call rejects with a "disposed" error and the worker is terminated', async () => {
    let disposed = 0;
    const info = { model: 'm', adapter: 'a', maxSequences: 1, maxContext: 8, maxBatchTokens: 8 };
    const w = new FakeWorker({ async dispose() { disposed++; }, load: async () => info, onStep() {} });
    const e = new WorkerEngine(w);
    expect(await e.load({ model: 'x/' })).toEqual(info);
    await e.dispose();
    expect(disposed).toBe(1);
    expect(w.terminated).toBe(true);
    await expect(e.load({ model: 'x/' })).rejects.toThrow(EngineDisposedError);
    await expect(e.generate('x').result).rejects.toThrow(/disposed/);
  });
});
