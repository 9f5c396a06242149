// chat.completions.create over an engine's generate({ messages }): one implementation for the
// in-thread and the Worker engine. An aborted request rejects (or its stream throws) with the
// signal's reason, as the openai client and fetch do; 'abort' never appears as a finish reason.
import { abortReason, ChatResponder, planChat, usageOf } from './openai.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatCompletionRequestOptions,
  ChatCompletions,
  Engine,
} from './types.ts';

export function chatCompletions(engine: Pick<Engine, 'generate' | 'info'>): ChatCompletions {
  const create = (req: ChatCompletionCreateParams, options: ChatCompletionRequestOptions = {}) => {
    let plan: ReturnType<typeof planChat>;
    try {
      plan = planChat(req, engine.info.model);
    } catch (e) {
      // Never throw synchronously: the error arrives where the result is awaited or iterated.
      return req?.stream ? failingStream(e) : Promise.reject(e);
    }
    const signal = options.signal ?? plan.signal;
    const g = engine.generate({ messages: plan.messages }, { ...plan.gen, signal });
    const r = new ChatResponder(engine.info.model, plan.includeUsage);
    const settle = async () => {
      const out = await g.result;
      if (out.finishReason === 'abort') throw abortReason(signal);
      return out as typeof out & { finishReason: 'stop' | 'length' };
    };
    if (!plan.stream) {
      return settle().then((out): ChatCompletion => r.completion(out.text, out.finishReason, usageOf(out.promptTokens, out.tokens.length)));
    }
    return (async function* (): AsyncGenerator<ChatCompletionChunk> {
      yield r.chunk({ role: 'assistant', content: '' }, null);
      for await (const c of g) if (c.text) yield r.chunk({ content: c.text }, null);
      const out = await settle();
      yield r.chunk({}, out.finishReason);
      if (plan.includeUsage) yield r.usageChunk(usageOf(out.promptTokens, out.tokens.length));
    })();
  };
  return { create } as ChatCompletions;
}

async function* failingStream(e: unknown): AsyncGenerator<ChatCompletionChunk> {
  throw e;
}
