// Architecture registry: config.json model_type -> MoeModelSpec, and the checks that every tensor the
// spec needs is in the checkpoint with the expected shape and a float dtype, before anything is read.
import { FormatError } from '../format/errors.ts';
import type { Checkpoint } from '../format/checkpoint.ts';
import { parseConfig, type ModelConfig, type ModelType } from '../format/config.ts';
import { CONFIG_FILE } from './common.ts';
import { qwen3MoeSpec } from './qwen3_moe.ts';
import { qwen2MoeSpec } from './qwen2_moe.ts';
import { olmoeSpec } from './olmoe.ts';
import { mixtralSpec } from './mixtral.ts';
import { graniteMoeSpec } from './granitemoe.ts';
import type { MoeModelSpec } from './spec.ts';

export type { MoeModelSpec, LayerRefs, WeightRef, FfnRefs, ArchRouter, QkNormKind } from './spec.ts';
type Builder = (c: ModelConfig, names: ReadonlySet<string>) => MoeModelSpec;

/** One builder per supported model type (format/config.ts SUPPORTED_MODEL_TYPES: the type checks both agree). */
export const ARCHITECTURES: Readonly<Record<ModelType, Builder>> = {
  qwen3_moe: qwen3MoeSpec,
  qwen2_moe: qwen2MoeSpec,
  olmoe: olmoeSpec,
  mixtral: mixtralSpec,
  granitemoe: graniteMoeSpec,
};

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** Build the spec for a normalised config and the checkpoint's tensor names. */
export function specFromConfig(c: ModelConfig, names: ReadonlySet<string>): MoeModelSpec {
  return ARCHITECTURES[c.modelType](c, names);
}

/**
 * Every tensor the spec needs must exist with exactly the expected shape and a float dtype. Extra
 * tensors (rotary inv_freq buffers, unused heads) are ignored: HF itself ignores unexpected keys.
 */
export function checkTensors(spec: MoeModelSpec, ckpt: Checkpoint): void {
  for (const [name, shape] of spec.tensors) {
    const t = ckpt.tensors.get(name);
    if (!t) throw new FormatError('MISSING_TENSOR', ckpt.files.name, `missing (required by ${spec.arch}, expected shape [${shape}])`, name);
    if (t.info.shape.join(',') !== shape.join(',')) {
      throw new FormatError('SHAPE', t.file, `expected shape [${shape}] from config.json, found [${t.info.shape}]`, name);
    }
    if (!FLOAT_DTYPES.has(t.info.dtype)) throw new FormatError('UNSUPPORTED', t.file, `dtype ${t.info.dtype} is not supported for weights (F32, F16, BF16)`, name);
  }
}

/** Read config.json from the checkpoint's folder, build the spec, check every tensor's shape. */
export async function resolveSpec(ckpt: Checkpoint): Promise<MoeModelSpec> {
  const text = await ckpt.files.readText(CONFIG_FILE);
  const spec = specFromConfig(parseConfig(text, CONFIG_FILE), new Set(ckpt.tensors.keys()));
  checkTensors(spec, ckpt);
  return spec;
}
