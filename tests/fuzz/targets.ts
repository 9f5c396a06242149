// Property-based fuzz targets (fast-check) over everything webmoe reads from model files: the
// safetensors header parser, the sharded index, config.json normalisation and tokenizer/template
// loading. The property of every target: the input either loads (and what loaded is self-consistent)
// or the library raises its typed FormatError with a one-line message; any other exception, a read
// outside the file, or a read larger than the file (an allocation from an unchecked size) fails it.
// Shared by the CI run (tests/fuzz/fuzz.test.ts, a few thousand inputs) and `npm run bench:fuzz`.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { FormatError } from '../../src/format/errors.ts';
import { readSafetensorsHeader, readTensorF32, type SafetensorsHeader } from '../../src/format/safetensors.ts';
import { type ByteSource } from '../../src/format/bytes.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/format/safetensors-writer.ts';
import { DTYPE_SIZE, type Dtype } from '../../src/format/dtype.ts';
import { openCheckpoint, INDEX_FILE, type CheckpointFiles } from '../../src/format/checkpoint.ts';
import { parseConfig, CONFIG_LIMITS } from '../../src/format/config.ts';
import { createTokenizer } from '../../src/format/tokenizer.ts';

export interface FuzzStats {
  inputs: number;
  loaded: number;
  /** FormatError codes seen, with counts. */
  errors: Record<string, number>;
}

export interface FuzzTarget<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Resolves 'ok' or the FormatError code; throws when the property is violated. */
  run(input: T): Promise<string>;
}

const DTYPES = Object.keys(DTYPE_SIZE) as Dtype[];
const enc = new TextEncoder();

/** Fails on any read outside the file; the longest read is recorded (never more than the file). */
export function guardedSource(bytes: Uint8Array, name = 'fuzz.safetensors'): ByteSource & { maxRead: number } {
  const src = {
    name,
    size: bytes.length,
    maxRead: 0,
    async read(offset: number, length: number) {
      if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
        throw new Error(`unchecked read offset=${offset} length=${length} size=${bytes.length}`);
      }
      src.maxRead = Math.max(src.maxRead, length);
      return bytes.subarray(offset, offset + length);
    },
  };
  return src;
}

/** The typed-error half of every property: a FormatError with a one-line message naming the file. */
function expectFormatError(e: unknown, file?: string): string {
  if (!(e instanceof FormatError)) throw new Error(`not a FormatError: ${(e as Error)?.stack ?? e}`);
  if (e.message.includes('\n')) throw new Error(`multi-line message: ${e.message}`);
  if (file !== undefined && !e.message.startsWith(`${file}: `)) throw new Error(`message does not name ${file}: ${e.message}`);
  return e.code;
}

// ---------------------------------------------------------------------------------------------
// safetensors header
// ---------------------------------------------------------------------------------------------

const tensorArb = fc.record({
  dtype: fc.constantFrom(...DTYPES),
  shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
});

/** A valid file of 0-4 small tensors (random data), as writeSafetensors makes it. */
const validFileArb = fc
  .tuple(fc.array(tensorArb, { maxLength: 4 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 }))
  .map(([ts, meta, seed]) => {
    const tensors: Record<string, TensorToWrite> = {};
    ts.forEach((t, i) => {
      const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
      tensors[`model.layers.${i}.w`] = { ...t, data: new Uint8Array(n).map((_, j) => (seed + j * 31) & 0xff) };
    });
    return writeSafetensors(tensors, meta ? { format: 'pt' } : undefined);
  });

function headerOf(bytes: Uint8Array): { len: number; json: Record<string, Record<string, unknown>> } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) };
}

/** The same data area behind a new header (given as text or raw bytes), with a correct length prefix. */
export function withHeader(orig: Uint8Array, header: string | Uint8Array): Uint8Array {
  const { len } = headerOf(orig);
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const data = orig.subarray(8 + len);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const weirdNumber = fc.constantFrom<unknown>(2 ** 53, 2 ** 53 - 1, 1e308, -1, 0.5, '3', null, 2 ** 32, Number.MAX_SAFE_INTEGER, -0, 1e400, true, [], {});
const weirdDim = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 2, arbitrary: weirdNumber });
const weirdOffset = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(2 ** 60, -1, 1e400, 2 ** 53, 2 ** 53 + 8, 0.5, 'x') });

type Mutation = (b: Uint8Array) => Uint8Array;
const pick = <T,>(a: T[], i: number) => a[i % a.length];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>((b) => b), // unmodified
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]): Mutation => (b) => {
    const { len } = headerOf(b);
    const o = b.slice();
    o[8 + (at % Math.max(1, len))] ^= 1 << bit;
    return o;
  }),
  fc.nat().map((at): Mutation => (b) => b.subarray(0, at % (b.length + 1))),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v): Mutation => (b) => {
    const o = b.slice();
    new DataView(o.buffer).setBigUint64(0, v, true);
    return o;
  }),
  fc.constantFrom(0n, 1n, 2n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 32n, 100n * 1024n * 1024n + 1n).map((v): Mutation => (b) => {
    const o = b.slice();
    new DataView(o.buffer).setBigUint64(0, v, true);
    return o;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]): Mutation => (b) => {
    const o = b.slice();
    o[at % o.length] = v;
    return o;
  }),
  fc.tuple(fc.nat(), weirdDim).map(([k, d]): Mutation => (b) => {
    const { json } = headerOf(b);
    const names = Object.keys(json).filter((n) => n !== '__metadata__');
    if (names.length) {
      const t = json[pick(names, k)];
      t.shape = [d, ...(t.shape as unknown[])];
    }
    return withHeader(b, JSON.stringify(json));
  }),
  fc.tuple(fc.nat(), weirdOffset, weirdOffset, fc.integer({ min: 0, max: 3 })).map(([k, a, c, form]): Mutation => (b) => {
    const { json } = headerOf(b);
    const names = Object.keys(json).filter((n) => n !== '__metadata__');
    if (names.length) json[pick(names, k)].data_offsets = [[a, c], [a], [a, c, 0], a][form];
    return withHeader(b, JSON.stringify(json));
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([k, j]): Mutation => (b) => {
    // overlap: a second name for one tensor's span
    const { json } = headerOf(b);
    const names = Object.keys(json).filter((n) => n !== '__metadata__');
    if (names.length) json[`dup.${pick(names, k)}`] = structuredClone(json[pick(names, j)]);
    return withHeader(b, JSON.stringify(json));
  }),
  fc.tuple(fc.nat(), fc.constantFrom(0xff, 0xc0, 0xed, 0x80, 0xfe), fc.constantFrom(0xa0, 0x20, 0xff)).map(([at, x, y]): Mutation => (b) => {
    const h = enc.encode(JSON.stringify(headerOf(b).json));
    const p = 1 + (at % Math.max(1, h.length - 1));
    const o = new Uint8Array(h.length + 2);
    o.set(h.subarray(0, p));
    o[p] = x;
    o[p + 1] = y;
    o.set(h.subarray(p), p + 2);
    return withHeader(b, o);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...DTYPES, 'f32', 'F4', '', 'Q8_0'), fc.jsonValue()).map(([k, dt, junk]): Mutation => (b) => {
    const { json } = headerOf(b);
    const names = Object.keys(json).filter((n) => n !== '__metadata__');
    if (names.length) json[pick(names, k)].dtype = dt;
    if (k % 5 === 0) (json as Record<string, unknown>).__metadata__ = junk;
    if (k % 7 === 0) (json as Record<string, unknown>)[`junk${k}`] = junk;
    return withHeader(b, JSON.stringify(json));
  }),
  fc.tuple(fc.constantFrom(' ', '\t', '\n', '\r', '\u00a0', '\u2028'), fc.integer({ min: 1, max: 9 }), fc.boolean()).map(([ws, n, front]): Mutation => (b) => {
    const t = JSON.stringify(headerOf(b).json);
    return withHeader(b, front ? ws.repeat(n) + t : t + ws.repeat(n));
  }),
  fc.string({ maxLength: 64 }).map((s): Mutation => (b) => withHeader(b, s)),
  fc.jsonValue().map((v): Mutation => (b) => withHeader(b, JSON.stringify(v) ?? 'null')),
);

/** Spans of a loaded header tile the data area exactly and match dtype x shape. */
function checkHeader(h: SafetensorsHeader, size: number): void {
  const spans = [...h.tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = h.dataStart;
  for (const t of spans) {
    if (t.begin !== cursor && t.end !== t.begin) throw new Error(`loaded a header with a gap or overlap at '${t.name}'`);
    const want = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
    if (t.end - t.begin !== want) throw new Error(`loaded '${t.name}' with ${t.end - t.begin} bytes for ${want}`);
    cursor = Math.max(cursor, t.end);
  }
  if (cursor !== size) throw new Error(`loaded a header whose tensors end at ${cursor} of ${size}`);
}

export const safetensorsTarget: FuzzTarget<Uint8Array> = {
  name: 'safetensors header',
  arbitrary: fc.oneof(
    { weight: 8, arbitrary: fc.tuple(validFileArb, mutationArb).map(([b, m]) => m(b)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }) },
  ),
  async run(bytes) {
    const src = guardedSource(bytes);
    let code = 'ok';
    try {
      const h = await readSafetensorsHeader(src);
      checkHeader(h, bytes.length);
      for (const t of h.tensors.values()) {
        const v = await readTensorF32(src, t);
        if (v.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`'${t.name}' read ${v.length} elements`);
      }
    } catch (e) {
      code = expectFormatError(e, src.name);
    }
    if (src.maxRead > bytes.length) throw new Error(`read ${src.maxRead} bytes of a ${bytes.length}-byte file`);
    return code;
  },
};

// ---------------------------------------------------------------------------------------------
// sharded index
// ---------------------------------------------------------------------------------------------

/** In-memory model folder; missing files are NOT_FOUND FormatErrors, reads are guarded. */
export function memoryFiles(files: Map<string, Uint8Array | string>): CheckpointFiles & { maxRead: () => number } {
  const sources: (ByteSource & { maxRead: number })[] = [];
  const get = (rel: string) => {
    const f = files.get(rel);
    if (f === undefined) throw new FormatError('NOT_FOUND', rel, 'not in the fuzz folder');
    return f;
  };
  return {
    name: 'fuzz-folder',
    async list() {
      return [...files.keys()].sort();
    },
    async open(rel) {
      const f = get(rel);
      const s = guardedSource(typeof f === 'string' ? enc.encode(f) : f, rel);
      sources.push(s);
      return s;
    },
    async readText(rel) {
      const f = get(rel);
      return typeof f === 'string' ? f : new TextDecoder().decode(f);
    },
    maxRead: () => Math.max(0, ...sources.map((s) => s.maxRead)),
  };
}

const badPath = fc.constantFrom('../model.safetensors', '/etc/passwd', 'a\\b.safetensors', '', './x', 'a//b', 'C:x', 'x\0y', 'missing.safetensors');

const indexArb = fc
  .tuple(
    fc.array(fc.array(tensorArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 9 }), fc.oneof(badPath, fc.jsonValue(), fc.nat())), { maxLength: 3 }),
    fc.option(fc.jsonValue(), { nil: undefined }),
    fc.integer({ min: 0, max: 19 }),
  )
  .map(([shards, edits, meta, form]) => {
    const files = new Map<string, Uint8Array | string>();
    const wm: Record<string, unknown> = {};
    shards.forEach((ts, s) => {
      const file = `model-0000${s + 1}-of-0000${shards.length}.safetensors`;
      const tensors: Record<string, TensorToWrite> = {};
      ts.forEach((t, i) => {
        const name = `layers.${s}.t${i}`;
        tensors[name] = { ...t, data: new Uint8Array(t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype]) };
        wm[name] = file;
      });
      files.set(file, writeSafetensors(tensors));
    });
    const names = Object.keys(wm);
    for (const [k, kind, v] of edits) {
      const n = pick(names, k);
      if (kind === 0) wm[n] = v; // wrong type / unsafe path / missing file
      else if (kind === 1 && files.size) wm[`ghost.${k}`] = pick([...files.keys()], k); // listed, but not in that shard
      else if (kind === 2) delete wm[n];
      else if (kind === 3 && files.size) {
        const f = pick([...files.keys()], k);
        const b = files.get(f) as Uint8Array;
        files.set(f, b.subarray(0, k % (b.length + 1))); // truncated shard
      } else if (kind === 4 && files.size) files.delete(pick([...files.keys()], k));
      else if (kind === 5 && files.size) wm[n] = pick([...files.keys()], k + 1); // the tensor is in another shard
    }
    let text: string;
    if (form === 0) text = JSON.stringify(meta ?? null);
    else if (form === 1) text = JSON.stringify({ weight_map: meta ?? [] });
    else if (form === 2) text = JSON.stringify({ metadata: { total_size: 1 }, weight_map: wm }).slice(0, (k0(edits) % 40) + 1);
    else if (form === 3) text = JSON.stringify({ weight_map: {} });
    else text = JSON.stringify({ metadata: meta ?? { total_size: 0 }, weight_map: wm });
    files.set(INDEX_FILE, text);
    return files;
  });

function k0(edits: [number, number, unknown][]): number {
  return edits.length ? edits[0][0] : 7;
}

export const indexTarget: FuzzTarget<Map<string, Uint8Array | string>> = {
  name: 'sharded index',
  arbitrary: indexArb,
  async run(folder) {
    const files = memoryFiles(folder);
    let code = 'ok';
    try {
      const ckpt = await openCheckpoint(files);
      try {
        const wm = (JSON.parse(folder.get(INDEX_FILE) as string) as { weight_map: Record<string, string> }).weight_map;
        for (const [t, f] of Object.entries(wm)) {
          const ct = ckpt.get(t);
          if (ct.file !== f) throw new Error(`'${t}' loaded from '${ct.file}', the index says '${f}'`);
          await ckpt.readTensorF32(t);
        }
        if (ckpt.tensors.size !== Object.keys(wm).length) throw new Error(`loaded ${ckpt.tensors.size} tensors for ${Object.keys(wm).length} in the index`);
      } finally {
        await ckpt.close();
      }
    } catch (e) {
      code = expectFormatError(e);
    }
    const size = Math.max(0, ...[...folder.values()].map((f) => (typeof f === 'string' ? enc.encode(f).length : f.length)));
    if (files.maxRead() > size) throw new Error(`read ${files.maxRead()} bytes; the largest file has ${size}`);
    return code;
  },
};

// ---------------------------------------------------------------------------------------------
// config.json
// ---------------------------------------------------------------------------------------------

const BASE_CONFIG: Record<string, unknown> = JSON.parse(readFileSync(new URL('../../models/webmoe-mini/config.json', import.meta.url), 'utf8'));
const CONFIG_KEYS = [
  'model_type', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size',
  'num_experts', 'num_local_experts', 'n_routed_experts', 'num_experts_per_tok', 'intermediate_size', 'moe_intermediate_size',
  'shared_expert_intermediate_size', 'decoder_sparse_step', 'first_k_dense_replace', 'mlp_only_layers', 'rms_norm_eps',
  'rope_theta', 'rope_scaling', 'rope_parameters', 'partial_rotary_factor', 'max_position_embeddings', 'tie_word_embeddings',
  'attention_bias', 'qkv_bias', 'sliding_window', 'use_sliding_window', 'embedding_multiplier', 'residual_multiplier',
  'attention_multiplier', 'logits_scaling', 'bos_token_id', 'eos_token_id', 'torch_dtype', 'dtype', 'norm_topk_prob',
];
const configValue = fc.oneof(
  fc.integer({ min: -3, max: 70_000 }),
  fc.constantFrom<unknown>(0, 1, 2, 2 ** 31, 2 ** 53, 1e400, -1e400, 0.5, 1e-300, 'qwen3_moe', 'olmoe', 'mixtral', 'granitemoe', 'qwen2_moe', 'llama', null, true, false, [], [0, 1], [1e9], {}),
  fc.jsonValue(),
);

const configArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom(...CONFIG_KEYS), configValue, fc.boolean()), { maxLength: 4 })
      .map((edits) => {
        const c: Record<string, unknown> = structuredClone(BASE_CONFIG);
        for (const [k, v, del] of edits) {
          if (del) delete c[k];
          else c[k] = v;
        }
        // JSON text with 1e400 written out (JSON.stringify would print null)
        return JSON.stringify(c).replace(/"__inf__"/g, '1e400');
      }),
  },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v) ?? '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

export const configTarget: FuzzTarget<string> = {
  name: 'config.json',
  arbitrary: configArb,
  async run(text) {
    try {
      const c = parseConfig(text);
      const sizes: [number, number][] = [
        [c.hiddenSize, CONFIG_LIMITS.hidden], [c.numLayers, CONFIG_LIMITS.layers], [c.numHeads, CONFIG_LIMITS.heads],
        [c.numKvHeads, CONFIG_LIMITS.heads], [c.headDim, CONFIG_LIMITS.headDim], [c.vocabSize, CONFIG_LIMITS.vocab],
        [c.numExperts, CONFIG_LIMITS.experts], [c.topK, CONFIG_LIMITS.experts], [c.moeIntermediateSize, CONFIG_LIMITS.intermediate],
      ];
      for (const [v, max] of sizes) if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new Error(`loaded a size ${v} outside 1..${max}`);
      if (c.numHeads % c.numKvHeads !== 0 || c.topK > c.numExperts) throw new Error('loaded an inconsistent config');
      if (c.sparseLayers.length !== c.numLayers) throw new Error('sparseLayers length');
      for (const x of [c.rmsNormEps, c.rope.theta, c.partialRotaryFactor, c.attentionScale]) if (!Number.isFinite(x) || x <= 0) throw new Error(`loaded a non-finite or non-positive number ${x}`);
      return 'ok';
    } catch (e) {
      return expectFormatError(e, 'config.json');
    }
  },
};

// ---------------------------------------------------------------------------------------------
// tokenizer.json + tokenizer_config.json (+ chat template) + generation_config.json
// ---------------------------------------------------------------------------------------------

/** A small byte-level BPE cut from the default model's tokenizer (the first 320 ids and their merges). */
function smallTokenizer(): { tj: Record<string, unknown>; tc: Record<string, unknown> } {
  const dir = new URL('../../models/webmoe-mini/', import.meta.url);
  const tj = JSON.parse(readFileSync(new URL('tokenizer.json', dir), 'utf8'));
  const tc = JSON.parse(readFileSync(new URL('tokenizer_config.json', dir), 'utf8'));
  const vocab: Record<string, number> = {};
  for (const [t, id] of Object.entries(tj.model.vocab as Record<string, number>)) if (id < 320) vocab[t] = id;
  const merges = (tj.model.merges as (string | string[])[]).filter((m) => {
    const [a, b] = typeof m === 'string' ? m.split(' ') : m;
    return a in vocab && b in vocab && a + b in vocab;
  });
  tj.model = { ...tj.model, vocab, merges };
  return { tj, tc };
}
const SMALL = smallTokenizer();

const jinjaPiece = fc.constantFrom(
  '{{ ', ' }}', '{% ', ' %}', 'for m in messages', 'endfor', 'if m.role == "user"', 'elif', 'else', 'endif', 'm.content', 'm["role"]',
  'bos_token', 'eos_token', "raise_exception('bad template')", 'add_generation_prompt', 'messages[0]', 'messages[99].content',
  '|length', '|upper', '|tojson', '~', '(', ')', '[', ']', '"x"', '1/0', 'range(3)', 'set x = 1', 'macro f()', 'endmacro', 'f()', 'loop.index', 'none.x',
  'Assistant: ', '\n', "{{ m['content'] }}",
);
const templateArb = fc.oneof(
  fc.array(jinjaPiece, { maxLength: 12 }).map((a) => a.join('')),
  fc.constant(SMALL.tc.chat_template as string),
  fc.string({ maxLength: 30 }),
  fc.jsonValue(),
  fc.array(fc.record({ name: fc.constantFrom('default', 'tool_use', 'x'), template: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(SMALL.tc.chat_template as string)) }), { maxLength: 2 }),
);
const specialToken = fc.oneof(fc.constantFrom<unknown>('<|endoftext|>', '<|pad|>', 'nope', null, 3, { content: '<|endoftext|>' }, { content: 4 }), fc.jsonValue());
const tokJsonEdit = fc.oneof(
  fc.tuple(fc.constant('model.type'), fc.constantFrom<unknown>('BPE', 'WordPiece', 'Unigram', 'WordLevel', 'X', 42, null)),
  fc.tuple(fc.constant('model.vocab'), fc.oneof(fc.jsonValue(), fc.constant({ a: -1, b: 1.5, c: 'x' }), fc.constant([['a', 0.5]]))),
  fc.tuple(fc.constant('model.merges'), fc.oneof(fc.jsonValue(), fc.constant(['a b c']), fc.constant([['zz', 'qq']]), fc.constant([1, 2]))),
  fc.tuple(fc.constant('model.unk_token'), fc.jsonValue()),
  fc.tuple(fc.constant('model.byte_fallback'), fc.jsonValue()),
  fc.tuple(fc.constant('added_tokens'), fc.oneof(fc.jsonValue(), fc.array(fc.record({ id: fc.oneof(fc.integer({ min: -2, max: 400 }), fc.jsonValue()), content: fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue()), special: fc.boolean() }), { maxLength: 3 }))),
  fc.tuple(fc.constantFrom('normalizer', 'pre_tokenizer', 'decoder', 'post_processor'), fc.oneof(
    fc.jsonValue(),
    fc.record({ type: fc.constantFrom('ByteLevel', 'Sequence', 'NFC', 'NFKD', 'Lowercase', 'Split', 'Metaspace', 'Replace', 'Strip', 'TemplateProcessing', 'BertPreTokenizer', 'Whitespace', 'Nope'), pattern: fc.jsonValue(), content: fc.jsonValue() }),
  )),
  fc.tuple(fc.constant('model'), fc.jsonValue()),
);

export interface TokenizerInput {
  tj: unknown;
  tc: unknown;
  gc: unknown;
}

const tokenizerArb: fc.Arbitrary<TokenizerInput> = fc
  .tuple(
    fc.array(tokJsonEdit, { maxLength: 3 }),
    fc.option(templateArb, { nil: undefined }),
    fc.option(specialToken, { nil: undefined }),
    fc.option(specialToken, { nil: undefined }),
    fc.option(fc.oneof(fc.jsonValue(), fc.record({ eos_token_id: fc.jsonValue(), bos_token_id: fc.jsonValue() })), { nil: undefined }),
    fc.integer({ min: 0, max: 30 }),
  )
  .map(([edits, template, bos, eos, gc, form]) => {
    if (form === 0) return { tj: null, tc: {}, gc: null };
    const tj = structuredClone(SMALL.tj);
    for (const [path, v] of edits) {
      const [a, b] = path.split('.');
      if (b === undefined) tj[a] = v;
      else if (typeof tj[a] === 'object' && tj[a] !== null) (tj[a] as Record<string, unknown>)[b] = v;
    }
    const tc: Record<string, unknown> = form === 1 ? ([] as never) : { ...SMALL.tc };
    if (template !== undefined) tc.chat_template = template;
    if (bos !== undefined) tc.bos_token = bos;
    if (eos !== undefined) tc.eos_token = eos;
    return { tj, tc, gc: gc ?? null };
  });

const MESSAGES = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }];

export const tokenizerTarget: FuzzTarget<TokenizerInput> = {
  name: 'tokenizer + chat template',
  arbitrary: tokenizerArb,
  async run({ tj, tc, gc }) {
    let tok;
    // @huggingface/tokenizers console.warn()s about unknown regex patterns; keep the fuzz output readable.
    const warn = console.warn;
    console.warn = () => {};
    try {
      tok = createTokenizer(tj, tc, gc);
    } catch (e) {
      return expectFormatError(e);
    } finally {
      console.warn = warn;
    }
    // Loaded: encoding, decoding, stream decoding and the chat template each work or raise a FormatError.
    try {
      const ids = tok.encode('Hello, whale! 123');
      if (!Array.isArray(ids) || ids.some((i) => !Number.isSafeInteger(i) || i < 0)) throw new Error(`encode gave bad ids ${JSON.stringify(ids)}`);
      tok.decode(ids);
      const d = tok.createStreamDecoder();
      for (const i of ids) d.push(i);
      d.flush();
    } catch (e) {
      return `use:${expectFormatError(e, 'tokenizer.json')}`;
    }
    for (const id of [...tok.eosTokenIds, tok.bosTokenId ?? 0]) if (!Number.isInteger(id) || id < 0) throw new Error(`special id ${id}`);
    try {
      const text = tok.applyChatTemplate(MESSAGES);
      if (typeof text !== 'string') throw new Error('template rendered a non-string');
    } catch (e) {
      return `use:${expectFormatError(e, 'tokenizer_config.json')}`;
    }
    return 'ok';
  },
};

export const TARGETS = [safetensorsTarget, indexTarget, configTarget, tokenizerTarget] as FuzzTarget<unknown>[];

/** Run `runs` inputs of one target (fast-check reports and shrinks a failing input). */
export async function fuzz(target: FuzzTarget<unknown>, runs: number, seed: number): Promise<FuzzStats & { ms: number }> {
  const stats: FuzzStats = { inputs: 0, loaded: 0, errors: {} };
  const t0 = performance.now();
  const details = await fc.check(
    fc.asyncProperty(target.arbitrary, async (x) => {
      const code = await target.run(x);
      stats.inputs++;
      if (code === 'ok') stats.loaded++;
      else stats.errors[code] = (stats.errors[code] ?? 0) + 1;
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  if (details.failed) {
    const err = details.errorInstance as Error | undefined;
    const input = JSON.stringify(details.counterexample, (_, v) => (v instanceof Uint8Array ? Array.from(v) : typeof v === 'bigint' ? String(v) : v));
    throw new Error(`${target.name}: input ${details.numRuns} (seed ${seed}) violates the property: ${err?.stack ?? err}\ninput: ${input.slice(0, 1500)}`);
  }
  return { ...stats, ms: performance.now() - t0 };
}
