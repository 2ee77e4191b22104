/**
 * One lock per key, in arrival order. Keys with no holder and no waiter are forgotten, so
 * the map holds only the keys in use.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Waits for the key's lock; returns its release, which must be called exactly once. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous ? previous.then(() => mine) : mine;
    this.#tails.set(key, tail);
    if (previous) await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}
