// Greedy continuations of the given prompts from the Node engine (Dawn) on the default model, for the
// demo test to compare with the browser's: `tsx tests/browser/node-greedy.ts MAX_TOKENS PROMPTS_JSON`
// prints one JSON line, the generated ids per prompt. The prompts decode together, as in the page.
// (Through loadEngine rather than src/node.ts, whose re-export of the browser entry needs Vite.)
import { loadEngine } from '../../src/api/load.ts';
import { createNodeGpu } from '../../src/gpu/node.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { defaultModelDir } from '../../src/default-model.ts';

const [maxTokens, promptsJson] = process.argv.slice(2);
const prompts = JSON.parse(promptsJson) as string[];
const gpu = await createNodeGpu({ onNotice: () => {} });
const engine = await loadEngine(filesFromNodeDir(defaultModelDir()), gpu, { maxSequences: prompts.length }, { onDispose: () => gpu.destroy() });
try {
  const outs = await Promise.all(prompts.map((p) => engine.generate(p, { maxTokens: Number(maxTokens), temperature: 0 }).result));
  console.log(JSON.stringify(outs.map((o) => o.tokens)));
} finally {
  await engine.dispose();
}
