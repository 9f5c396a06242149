// CPU-side weight conversion and packing used when a model is loaded.
export * from './f16.ts';
export * from './pack.ts';
