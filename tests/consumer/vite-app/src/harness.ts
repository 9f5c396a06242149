export {}; // a module: top-level await below
// Runs one README snippet (?snippet=worker|main) as an app would, and reports to the Playwright test:
// whether it ran to its end, the page text it wrote, and how many Workers the page started.
const workers: string[] = [];
const NativeWorker = window.Worker;
window.Worker = class extends NativeWorker {
  constructor(url: string | URL, opts?: WorkerOptions) {
    super(url, opts);
    workers.push(String(url));
  }
};
const report = (r: object) => ((window as unknown as { __result: object }).__result = r);
const which = new URLSearchParams(location.search).get('snippet');
const t0 = performance.now();
try {
  if (which === 'worker') await import('./browser-worker.ts');
  else if (which === 'main') await import('./browser-main.ts');
  else throw new Error(`unknown snippet ${which}`);
  report({ done: true, text: document.body.innerText, workers, seconds: (performance.now() - t0) / 1000 });
} catch (e) {
  report({ error: String((e as Error)?.stack ?? e), workers });
}
