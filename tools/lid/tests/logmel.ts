// Prints the product's log-mel (src/detect/features.ts) of a raw 16-bit little-endian 8 kHz file as JSON:
// the TypeScript side of test_features.py's parity check.
import { readFileSync } from "node:fs";
import { LogMelExtractor, melFilterbank } from "../../../src/detect/features.js";

const b = readFileSync(process.argv[2] as string);
const pcm = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
const frames: number[][] = [];
new LogMelExtractor((f) => frames.push(Array.from(f.logMel))).push(pcm);
const filters = melFilterbank().map((f) => ({ start: f.start, weights: Array.from(f.weights) }));
console.log(JSON.stringify({ frames, filters }));
