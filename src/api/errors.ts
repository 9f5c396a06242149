// Errors the engine API raises, so callers can tell a bad request from a dead device or a closed engine.

/** A request parameter is wrong; `param` names it (e.g. 'temperature', 'messages[1].role'). */
export class ParameterError extends RangeError {
  override name = 'ParameterError';
  constructor(readonly param: string, message: string) {
    super(message);
  }
}

/** The engine was disposed: it accepts no more work. */
export class EngineDisposedError extends Error {
  override name = 'EngineDisposedError';
  constructor(message = 'webmoe: the engine is disposed; create a new one') {
    super(message);
  }
}

export { GpuDeviceLostError } from '../gpu/errors.ts';
