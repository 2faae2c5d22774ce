// Decides when a media-api client has sent too many invalid frames in a row and its socket should
// be closed with 1008 (policy violation); one good frame forgives the run.

export const POLICY_VIOLATION_CLOSE_CODE = 1008;

export type BadFrameVerdict =
  | { readonly close: false }
  | { readonly close: true; readonly code: typeof POLICY_VIOLATION_CLOSE_CODE; readonly reason: string };

export class BadFrameCounter {
  readonly #limit: number;
  #consecutive = 0;
  #total = 0;

  /** `limit` bad frames in a row close the session. Default 20. */
  constructor(limit = 20) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be an integer ≥ 1");
    this.#limit = limit;
  }

  good(): void {
    this.#consecutive = 0;
  }

  bad(): BadFrameVerdict {
    this.#consecutive += 1;
    this.#total += 1;
    if (this.#consecutive < this.#limit) return { close: false };
    // Close reasons travel in a 123-byte field: keep it short and fixed.
    return {
      close: true,
      code: POLICY_VIOLATION_CLOSE_CODE,
      reason: `${this.#limit} invalid frames in a row`,
    };
  }

  get consecutive(): number {
    return this.#consecutive;
  }

  get total(): number {
    return this.#total;
  }
}
