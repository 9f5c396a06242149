/**
 * Every failure in src/format is a FormatError: a one-line message that names the file (and the
 * tensor or key, when there is one) and says what was expected.
 */
export type FormatErrorCode =
  | 'IO' // a read failed or returned fewer bytes than asked
  | 'NOT_FOUND' // a file is missing
  | 'HTTP' // unexpected HTTP status
  | 'RANGE_UNSUPPORTED' // server ignores HTTP Range on a large file
  | 'HEADER_LENGTH' // safetensors header length out of range
  | 'HEADER_ENCODING' // header not valid UTF-8
  | 'HEADER_JSON' // header not JSON / not an object
  | 'METADATA' // __metadata__ not a string->string map
  | 'ENTRY' // tensor entry not an object / missing fields
  | 'DTYPE' // unknown dtype
  | 'SHAPE' // shape not an array of non-negative safe integers
  | 'OFFSETS' // data_offsets malformed
  | 'SIZE_MISMATCH' // prod(shape)*dtype size != data_offsets span
  | 'OUT_OF_BOUNDS' // span outside the data area
  | 'OVERLAP' // two spans overlap
  | 'GAP' // bytes in the data area not covered by any tensor
  | 'TOO_LARGE' // a caller-imposed cap was exceeded
  | 'INDEX' // model.safetensors.index.json malformed
  | 'MISSING_TENSOR' // index lists a tensor its shard does not hold
  | 'UNKNOWN_TENSOR' // lookup of a name the checkpoint does not have
  | 'CONFIG' // config.json malformed / inconsistent
  | 'UNSUPPORTED' // unsupported model_type / dtype conversion
  | 'TOKENIZER'; // tokenizer files malformed / template errors

export class FormatError extends Error {
  readonly file: string;
  readonly tensor?: string;
  readonly code: FormatErrorCode;

  constructor(code: FormatErrorCode, file: string, detail: string, tensor?: string, options?: { cause?: unknown }) {
    const where = tensor === undefined ? `${file}: ` : `${file}: tensor '${tensor}': `;
    super((where + detail).replace(/\s*\n\s*/g, ' '), options);
    this.name = 'FormatError';
    this.code = code;
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

export function isFormatError(e: unknown): e is FormatError {
  return e instanceof FormatError;
}
