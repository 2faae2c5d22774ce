import { describe, expect, it } from "vitest";
import { BINS, LOG_FLOOR, MEL_BANDS, type SpectralFrame } from "../../../src/detect/features.js";
import { FrontEnd } from "../../../src/detect/frontend.js";
import { VoiceActivityDetector } from "../../../src/detect/vad.js";
import { speechClip } from "./fixtures.js";
import { concat, dtmf, holdMusic, mix, noise, tones } from "./signals.js";

/** Share of frames inside a speech region, and the count of frames handed to the classifier. */
function vadShare(x: Int16Array): { speech: number; active: number } {
  let n = 0;
  let speech = 0;
  let active = 0;
  const fe = new FrontEnd((f) => {
    n++;
    if (f.vad.speech) speech++;
    if (f.normalized) active++;
  });
  for (let i = 0; i < x.length; i += 160) fe.push(x.subarray(i, i + 160));
  return { speech: speech / n, active };
}

const quietLead = () => noise(0.5, -60, 9);

describe("VoiceActivityDetector", () => {
  it("rejects digital silence and low noise", () => {
    expect(vadShare(new Int16Array(16000)).speech).toBe(0);
    expect(vadShare(noise(3, -45)).speech).toBe(0);
  });

  it("rejects steady noise that starts after silence once the floor adapts", () => {
    // A noise burst is loud and spectrally flat: the onset may fire briefly, the floor then learns it.
    const share = vadShare(concat(quietLead(), noise(6, -30, 2))).speech;
    expect(share).toBeLessThan(0.35);
  });

  it.each([
    ["dial tone 350+440 Hz", () => concat(quietLead(), tones([350, 440], 4, -15))],
    ["ringback 440+480 Hz 2 s on / 4 s off", () => concat(quietLead(), tones([440, 480], 12, -15, [2, 4]))],
    ["busy 480+620 Hz 0.5/0.5", () => concat(quietLead(), tones([480, 620], 4, -15, [0.5, 0.5]))],
    ["DTMF digits", () => concat(quietLead(), dtmf(24))],
    [
      "dial tone under line noise",
      () => mix(concat(quietLead(), tones([350, 440], 4, -15)), noise(4.5, -45, 4)),
    ],
  ])("never calls %s speech", (_name, make) => {
    const r = vadShare(make());
    expect(r.speech).toBeLessThan(0.02);
    expect(r.active).toBeLessThan(5);
  });

  it("mostly rejects hold music (few frames reach the classifier)", () => {
    // Known limit: melody notes with harmonics and decaying envelopes pass now and then; the detector
    // needs 1.5 s of active speech before it commits, which 10 s of this music does not provide.
    const r = vadShare(concat(quietLead(), holdMusic(10)));
    expect(r.speech).toBeLessThan(0.2);
    expect(r.active).toBeLessThan(120);
  });

  it.each(["speech-es", "speech-fr"] as const)("finds the speech in %s", (name) => {
    const x = concat(quietLead(), speechClip(name), quietLead());
    const r = vadShare(x);
    expect(r.speech).toBeGreaterThan(0.4);
    expect(r.active).toBeGreaterThan(100);
  });

  it("finds speech right after a ringback cadence", () => {
    const x = concat(quietLead(), tones([440, 480], 2, -15), new Int16Array(8000), speechClip("speech-es"));
    expect(vadShare(x).active).toBeGreaterThan(100);
  });

  it("tracks the noise floor as the quietest level of the last second, whatever the levels do", () => {
    // Levels that rise for longer than the window (the case a running minimum gets wrong most easily),
    // then fall, then wander; the floor must be the minimum of the last 100 levels at every frame.
    const levels: number[] = [];
    for (let i = 0; i < 250; i++) levels.push(10 + i * 0.01);
    for (let i = 0; i < 150; i++) levels.push(12.5 - i * 0.02);
    for (let i = 0; i < 300; i++) levels.push(9 + Math.sin(i / 7) + ((i * 7919) % 13) / 10);
    const vad = new VoiceActivityDetector();
    const floorOf = (v: VoiceActivityDetector) => (v as unknown as { floor: number }).floor;
    const minLog = (vad as unknown as { minLog: number }).minLog;
    const frame: SpectralFrame = {
      index: 0,
      power: new Float32Array(BINS),
      logMel: new Float32Array(MEL_BANDS).fill(LOG_FLOOR),
      logEnergy: 0,
    };
    levels.forEach((level, i) => {
      frame.index = i;
      frame.logEnergy = level;
      vad.process(frame);
      let expected = level;
      for (let j = Math.max(0, i - 99); j <= i; j++)
        expected = Math.min(expected, Math.fround(levels[j] as number));
      expect(floorOf(vad)).toBe(Math.max(expected, minLog - Math.log(10)));
    });
  });
});
