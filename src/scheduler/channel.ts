/** A single-consumer async queue: the scheduler pushes, a `for await` loop pulls. */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private closed = false;
  private error: { e: unknown } | null = null;

  push(v: T): void {
    if (this.closed) return;
    const w = this.waiter;
    this.waiter = null;
    if (w) w.resolve({ value: v, done: false });
    else this.items.push(v);
  }

  /** End the stream; with `err`, the consumer's next pull (after queued items) throws it. */
  close(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    if (err !== undefined) this.error = { e: err };
    const w = this.waiter;
    this.waiter = null;
    if (w) this.settle(w);
  }

  private settle(w: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }): void {
    if (this.error) {
      const { e } = this.error;
      this.error = null;
      w.reject(e);
    } else w.resolve({ value: undefined as never, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () =>
        new Promise<IteratorResult<T>>((resolve, reject) => {
          if (this.items.length) resolve({ value: this.items.shift()!, done: false });
          else if (this.closed) this.settle({ resolve, reject });
          else this.waiter = { resolve, reject };
        }),
    };
  }
}
