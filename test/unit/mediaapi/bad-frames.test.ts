import { describe, expect, it } from "vitest";
import { BadFrameCounter, POLICY_VIOLATION_CLOSE_CODE } from "../../../src/mediaapi/bad-frames";

describe("BadFrameCounter", () => {
  it("says close with 1008 at the 20th bad frame in a row, not before", () => {
    const counter = new BadFrameCounter();
    for (let i = 1; i < 20; i++) expect(counter.bad()).toEqual({ close: false });
    expect(counter.bad()).toEqual({ close: true, code: 1008, reason: "20 invalid frames in a row" });
    expect(POLICY_VIOLATION_CLOSE_CODE).toBe(1008);
  });

  it("forgives a run on a good frame but keeps the total", () => {
    const counter = new BadFrameCounter(3);
    counter.bad();
    counter.bad();
    counter.good();
    expect(counter.consecutive).toBe(0);
    expect(counter.bad().close).toBe(false);
    expect(counter.bad().close).toBe(false);
    expect(counter.bad().close).toBe(true);
    expect(counter.total).toBe(5);
  });

  it("refuses a limit below 1", () => {
    expect(() => new BadFrameCounter(0)).toThrow(RangeError);
  });
});
