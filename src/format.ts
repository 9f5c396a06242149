// webmoe/format: the file-format layer (safetensors, sharded checkpoints, config.json, tokenizer and
// chat template) for tools that read Hugging Face checkpoints without running them.
export * from './format/index.ts';
