// The same API suite against the in-thread engine and the Worker engine. The Worker side runs
// serveEngine() on one end of a MessageChannel: the very code of webmoe's worker file, minus the
// Worker (real module Workers run it in Chromium: tests/browser and the consumer test).
import { afterAll } from 'vitest';
import { engineApiSuite, localEngine } from './engine-suite.ts';
import { serveEngine } from '../../src/worker/handler.ts';
import { WorkerEngine } from '../../src/worker/client.ts';

engineApiSuite('LocalEngine (this thread)', async (model) => localEngine(model));

const ports: MessagePort[] = [];
afterAll(() => ports.forEach((p) => p.close()));

engineApiSuite('WorkerEngine (over a MessageChannel)', async (model) => {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  serveEngine(port2, async () => localEngine(model));
  const e = new WorkerEngine(Object.assign(port1, { terminate: () => port1.close() }));
  await e.load({});
  return e;
});
