import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { decodeMulaw } from "../../../tools/lid/mulaw.js";

/** A committed espeak-ng clip through the telephone channel (mu-law, 8 kHz). */
export function speechClip(name: "speech-es" | "speech-fr"): Int16Array {
  return decodeMulaw(readFileSync(fileURLToPath(new URL(`./fixtures/${name}.ul`, import.meta.url))));
}
