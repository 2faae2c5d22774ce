// µ-law table against the G.711 formula, L16 byte order, channel split and frame checks.

import { describe, expect, it } from "vitest";
import type { MediaFormat } from "../../../src/media/format";
import { decodeFrame } from "../../../src/media/frames";
import { encodeMulawSample, MULAW_TABLE } from "../../../src/media/pcmu";

/** G.711 µ-law expansion written from the standard's segment table, independently of the module. */
function g711Expand(code: number): number {
  const inverted = 255 - code;
  const segment = Math.floor((inverted % 128) / 16);
  const step = inverted % 16;
  const magnitude = (2 * step + 33) * 2 ** segment * 4 - 132;
  return inverted >= 128 ? -magnitude : magnitude;
}

describe("PCMU", () => {
  it("table matches the G.711 formula for all 256 codes", () => {
    for (let code = 0; code < 256; code++)
      expect(MULAW_TABLE[code], `code ${code}`).toBe(g711Expand(code) + 0); // + 0: -0 → 0
  });

  it("has the known anchor values", () => {
    expect(MULAW_TABLE[0xff]).toBe(0);
    expect(MULAW_TABLE[0x7f]).toBe(0);
    expect(MULAW_TABLE[0x00]).toBe(-32124);
    expect(MULAW_TABLE[0x80]).toBe(32124);
  });

  it("encode then decode stays within the segment's quantisation step", () => {
    for (let s = -32000; s <= 32000; s += 97) {
      const back = MULAW_TABLE[encodeMulawSample(s)] as number;
      expect(Math.abs(back - s)).toBeLessThanOrEqual(Math.max(8, Math.abs(s) / 16));
    }
  });
});

const stereo: MediaFormat = { format: "PCMU", channels: ["external", "internal"], rate: 8000 };
const l16mono: MediaFormat = { format: "L16", channels: ["internal"], rate: 8000 };

describe("decodeFrame", () => {
  it("splits interleaved stereo in the negotiated channel order", () => {
    const result = decodeFrame(new Uint8Array([0x80, 0x00, 0xff, 0x7f]), stereo, 8000);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect([...(result.channels[0] as Int16Array)]).toEqual([32124, 0]);
    expect([...(result.channels[1] as Int16Array)]).toEqual([-32124, 0]);
  });

  it("reads L16 as little-endian", () => {
    const result = decodeFrame(new Uint8Array([0x01, 0x00, 0x00, 0x80, 0xff, 0x7f]), l16mono, 8000);
    expect(result.ok && [...(result.channels[0] as Int16Array)]).toEqual([1, -32768, 32767]);
  });

  it("refuses misaligned, empty and oversize frames with a reason", () => {
    expect(decodeFrame(new Uint8Array(3), stereo, 8000)).toMatchObject({
      ok: false,
      error: { code: "frame-misaligned" },
    });
    expect(decodeFrame(new Uint8Array(3), l16mono, 8000)).toMatchObject({
      ok: false,
      error: { code: "frame-misaligned" },
    });
    expect(decodeFrame(new Uint8Array(0), stereo, 8000)).toMatchObject({
      ok: false,
      error: { code: "frame-empty" },
    });
    expect(decodeFrame(new Uint8Array(2 * 161), stereo, 160)).toMatchObject({
      ok: false,
      error: {
        code: "frame-too-large",
        info: expect.stringMatching(/161 samples per channel; the limit is 160/),
      },
    });
  });
});
