/** Browser-safe entry for model file formats (Node file sources live in ./source-node.ts). */
export * from './errors.ts';
export * from './bytes.ts';
export * from './safetensors.ts';
export * from './dtype.ts';
export * from './checkpoint.ts';
export * from './config.ts';
export * from './tokenizer.ts';
