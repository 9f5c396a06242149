// WGSL source lookup. The same files in shaders/ serve the browser (bundled by Vite through
// wgsl-bundled.ts) and Node (read from disk by wgsl-fs.ts); whoever starts first registers a loader.

export type ShaderLoader = (name: string) => string;

let loader: ShaderLoader | null = null;
const cache = new Map<string, string>();

export function setShaderLoader(l: ShaderLoader): void {
  loader = l;
  cache.clear();
}

export function hasShaderLoader(): boolean {
  return loader !== null;
}

/** Source text of shaders/<name>.wgsl. */
export function wgslSource(name: string): string {
  let src = cache.get(name);
  if (src === undefined) {
    if (!loader) {
      throw new Error(
        `webmoe: no WGSL loader registered (import 'webmoe' in a bundler, or 'webmoe/node' in Node) while loading shader '${name}'`,
      );
    }
    src = loader(name);
    cache.set(name, src);
  }
  return src;
}

/**
 * Textual specialisation: `#if NAME` / `#else` / `#endif` lines and `${NAME}` substitutions.
 * Numeric knobs should be WGSL `override` constants instead; defines exist for what overrides cannot
 * express (element types, `enable f16;`, optional bindings).
 */
export function preprocess(src: string, defines: Record<string, string | number | boolean> = {}): string {
  const out: string[] = [];
  const stack: { active: boolean; taken: boolean }[] = [];
  const active = () => stack.every((s) => s.active);
  for (const line of src.split('\n')) {
    const t = line.trim();
    if (t.startsWith('#if ')) {
      const cond = t.slice(4).trim();
      const neg = cond.startsWith('!');
      const v = defines[neg ? cond.slice(1) : cond];
      const on = neg ? !v : !!v;
      stack.push({ active: on, taken: on });
      continue;
    }
    if (t === '#else') {
      const top = stack[stack.length - 1];
      if (!top) throw new Error('wgsl preprocess: #else without #if');
      top.active = !top.taken;
      top.taken = true;
      continue;
    }
    if (t === '#endif') {
      if (!stack.pop()) throw new Error('wgsl preprocess: #endif without #if');
      continue;
    }
    if (active()) out.push(line);
  }
  if (stack.length) throw new Error('wgsl preprocess: unterminated #if');
  return out.join('\n').replace(/\$\{(\w+)\}/g, (m, k: string) => {
    if (!(k in defines)) throw new Error(`wgsl preprocess: undefined \${${k}}`);
    return String(defines[k]);
  });
}
