/**
 * Adam (Kingma and Ba) with decoupled weight decay (AdamW) on a flat Float32Array of
 * parameters. `decayTarget` is what weight decay pulls towards (zeros when omitted): for an
 * adapter, the identity.
 */
export class Adam {
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  #t = 0;

  constructor(
    readonly params: Float32Array,
    readonly options: { learningRate: number; weightDecay?: number; decayTarget?: Float32Array; beta1?: number; beta2?: number; epsilon?: number },
  ) {
    this.#m = new Float64Array(params.length);
    this.#v = new Float64Array(params.length);
  }

  /** One update from `grad` (same length as the parameters). */
  step(grad: ArrayLike<number>): void {
    const { learningRate: lr, weightDecay = 0, decayTarget, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = this.options;
    this.#t++;
    const c1 = 1 - beta1 ** this.#t;
    const c2 = 1 - beta2 ** this.#t;
    const p = this.params;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i]!;
      const m = (this.#m[i] = beta1 * this.#m[i]! + (1 - beta1) * g);
      const v = (this.#v[i] = beta2 * this.#v[i]! + (1 - beta2) * g * g);
      const decay = weightDecay ? weightDecay * (p[i]! - (decayTarget?.[i] ?? 0)) : 0;
      p[i] = p[i]! - lr * ((m / c1) / (Math.sqrt(v / c2) + epsilon) + decay);
    }
  }
}
