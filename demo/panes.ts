// Prompt panes: each one a prompt (or a chat) streamed from the shared engine, with its own stop
// button, tokens per second and finish reason.
import type { Engine } from 'webmoe';

export interface SamplingOptions {
  maxTokens: number;
  temperature: number;
  seed?: number;
}

interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export type Mode = 'complete' | 'chat';

export interface PaneResult {
  prompt: string;
  mode: Mode;
  text: string;
  /** Generated token ids (completion mode). */
  tokens?: number[];
  tokenCount: number;
  finishReason: string | null;
  /** Generated tokens per second from the first token to the last. */
  tokensPerSecond: number | null;
  error?: string;
}

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

export class Pane {
  readonly root = el('section', 'pane');
  readonly prompt = el('textarea', 'pane-prompt');
  private readonly out = el('div', 'pane-out');
  private readonly stats = el('div', 'pane-stats', 'idle');
  private readonly runBtn = el('button', 'icon', 'Run');
  private readonly stopBtn = el('button', 'icon', 'Stop');
  readonly removeBtn = el('button', 'icon ghost', '×');
  private readonly title = el('span', 'pane-title');
  private current: AbortController | null = null;
  private history: ChatTurn[] = [];
  result: PaneResult | null = null;

  constructor(index: number, text: string, private readonly hooks: { run(p: Pane): void }) {
    this.root.dataset.testid = 'pane';
    this.prompt.dataset.testid = 'pane-prompt';
    this.out.dataset.testid = 'pane-output';
    this.stats.dataset.testid = 'pane-stats';
    this.stopBtn.dataset.testid = 'pane-stop';
    this.removeBtn.dataset.testid = 'pane-remove';
    this.removeBtn.title = 'Remove this pane';
    this.runBtn.title = 'Run this pane (Ctrl+Enter)';
    this.stopBtn.title = 'Stop this pane';
    this.prompt.rows = 2;
    this.prompt.value = text;
    this.prompt.spellcheck = false;
    this.prompt.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.hooks.run(this);
      }
    });
    this.stopBtn.disabled = true;
    this.runBtn.onclick = () => this.hooks.run(this);
    this.stopBtn.onclick = () => this.stop();
    const head = el('header');
    const actions = el('div', 'pane-actions');
    actions.append(this.runBtn, this.stopBtn, this.removeBtn);
    head.append(this.title, actions);
    this.root.append(head, this.prompt, this.out, this.stats);
    this.setIndex(index);
  }

  setIndex(i: number): void {
    this.title.textContent = `#${i + 1}`;
  }

  get running(): boolean {
    return this.current !== null;
  }

  setMode(mode: Mode): void {
    this.history = [];
    this.out.replaceChildren();
    this.root.classList.toggle('chat', mode === 'chat');
    this.prompt.placeholder = mode === 'chat' ? 'Message' : 'Prompt';
    this.stats.textContent = 'idle';
    this.result = null;
  }

  setRunnable(ok: boolean): void {
    this.runBtn.disabled = !ok || this.running;
  }

  private stopped = false;

  stop(): void {
    if (!this.current) return;
    this.stopped = true;
    this.current.abort();
  }

  /** Stream this pane's prompt; resolves with its result (errors are reported in the pane). */
  async run(engine: Engine, mode: Mode, opts: SamplingOptions): Promise<PaneResult> {
    const prompt = this.prompt.value;
    let text = '';
    let pieces = 0;
    let first = 0;
    let last = 0;
    const live = el('span', 'gen');
    let finished = false;
    /** One generated token's text (`token` false: text flushed at the end, not a token). */
    const onText = (t: string, token = true) => {
      if (finished) return;
      const now = performance.now();
      if (!first) first = now;
      last = now;
      if (token) pieces++;
      text += t;
      live.textContent = text;
      this.stats.textContent = `${pieces} tokens…`;
      this.out.scrollTop = this.out.scrollHeight;
    };
    const tps = (n: number) => (n > 1 && last > first ? ((n - 1) * 1000) / (last - first) : null);
    this.root.classList.add('busy');
    this.stopBtn.disabled = false;
    this.runBtn.disabled = true;
    this.stats.textContent = 'queued';
    this.stopped = false;
    try {
      const ac = new AbortController();
      this.current = ac;
      if (mode === 'chat') {
        this.history.push({ role: 'user', content: prompt });
        this.out.append(el('div', 'turn user', prompt));
        const reply = el('div', 'turn assistant');
        reply.append(live);
        this.out.append(reply);
        this.prompt.value = '';
        // the model's chat template, through the OpenAI-shaped API; usage gives the token count
        const stream = engine.chat.completions.create(
          { messages: this.history.slice(), stream: true, stream_options: { include_usage: true }, max_tokens: opts.maxTokens, temperature: opts.temperature, seed: opts.seed },
          { signal: ac.signal },
        );
        let finishReason: string | null = null;
        let tokens = 0;
        for await (const c of stream) {
          const d = c.choices[0]?.delta.content;
          if (d) onText(d);
          finishReason = c.choices[0]?.finish_reason ?? finishReason;
          tokens = c.usage?.completion_tokens ?? tokens;
        }
        this.history.push({ role: 'assistant', content: text });
        this.result = { prompt, mode, text, tokenCount: tokens, finishReason, tokensPerSecond: tps(tokens) };
      } else {
        this.out.replaceChildren(el('span', 'prompt-echo', prompt), live);
        const g = engine.generate(prompt, { ...opts, signal: ac.signal });
        for await (const c of g) onText(c.text, c.token >= 0);
        const r = await g.result;
        live.textContent = r.text;
        this.result = { prompt, mode, text: r.text, tokens: r.tokens, tokenCount: r.tokens.length, finishReason: r.finishReason, tokensPerSecond: tps(r.tokens.length) };
      }
      const s = this.result.tokensPerSecond;
      this.stats.textContent = `${this.result.tokenCount} tokens · ${s === null ? '–' : s.toFixed(1)} tok/s · finish: ${this.result.finishReason}`;
      this.stats.dataset.finish = this.result.finishReason ?? '';
    } catch (e) {
      const msg = String((e as Error)?.message ?? e);
      if (this.stopped) {
        // chat completions reject when aborted (as OpenAI's client does): a stop, not a failure
        if (mode === 'chat') this.history.push({ role: 'assistant', content: text });
        this.result = { prompt, mode, text, tokenCount: pieces, finishReason: 'abort', tokensPerSecond: tps(pieces) };
        this.stats.textContent = `${pieces} tokens · stopped · finish: abort`;
      } else {
        this.result = { prompt, mode, text, tokenCount: pieces, finishReason: null, tokensPerSecond: null, error: msg };
        this.stats.textContent = `error: ${msg}`;
      }
    } finally {
      finished = true;
      this.current = null;
      this.root.classList.remove('busy');
      this.stopBtn.disabled = true;
      this.runBtn.disabled = false;
    }
    return this.result;
  }
}
