// An async iterable fed by pushes: the request side of a gRPC stream whose messages arrive later (from
// langhook's calls). Ending it half-closes the stream; a consumer that stops early (the stream failed)
// makes further pushes no-ops instead of piling up.

export class PushQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #ended = false;
  #abandoned = false;
  #wake: (() => void) | null = null;

  push(item: T): void {
    if (this.#ended || this.#abandoned) return;
    this.#items.push(item);
    this.#wake?.();
  }

  /** No more items: the consumer sees the end once it has taken those already pushed. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  get ended(): boolean {
    return this.#ended;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        const item = this.#items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
      }
    } finally {
      this.#abandoned = true;
      this.#items = [];
    }
  }
}
