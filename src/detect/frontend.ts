// The per-channel front end: samples in, one event per 10 ms frame out, with the VAD decision and, for
// speech frames, the mean-normalised log-mel the language model consumes. Training extracts features
// through this same class, so the model never sees a front end that differs from production.

import { LogMelExtractor, MEL_BANDS, type SpectralFrame, StreamingCmn, StreamingCvn } from "./features.js";
import { type VadFrame, type VadOptions, VoiceActivityDetector } from "./vad.js";

export interface FrontEndFrame {
  index: number;
  logEnergy: number;
  vad: VadFrame;
  /** Normalised log-mel (reused buffer) when the frame is active speech, else null. */
  normalized: Float32Array | null;
}

/** How speech frames are normalised: the mean (CMN), or the mean and the variance (CMVN). */
export type Normalization = "cmn" | "cmvn";

export class FrontEnd {
  private readonly extractor: LogMelExtractor;
  private readonly vad: VoiceActivityDetector;
  private readonly cmn = new StreamingCmn(MEL_BANDS);
  private readonly cvn: StreamingCvn | null;
  private readonly norm = new Float32Array(MEL_BANDS);

  constructor(
    onFrame: (frame: FrontEndFrame) => void,
    vadOptions: VadOptions = {},
    normalization: Normalization = "cmn",
  ) {
    this.cvn = normalization === "cmvn" ? new StreamingCvn(MEL_BANDS) : null;
    this.vad = new VoiceActivityDetector(vadOptions);
    this.extractor = new LogMelExtractor((f: SpectralFrame) => {
      const v = this.vad.process(f);
      let normalized: Float32Array | null = null;
      if (v.active) {
        this.cmn.update(f.logMel);
        this.cmn.apply(f.logMel, this.norm);
        this.cvn?.apply(this.norm);
        normalized = this.norm;
      }
      onFrame({ index: f.index, logEnergy: f.logEnergy, vad: v, normalized });
    });
  }

  push(samples: Int16Array): void {
    this.extractor.push(samples);
  }

  /** Forget the speaker's mean (e.g. when the detector is told the speaker changed). */
  resetNormalization(): void {
    this.cmn.reset();
    this.cvn?.reset();
  }
}
