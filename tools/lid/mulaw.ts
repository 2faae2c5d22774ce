// G.711 mu-law for the tools (the gateway has its own codec in src/media; this keeps tools standalone).

export function decodeMulaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const u = ~(bytes[i] as number) & 0xff;
    const exp = (u >> 4) & 7;
    const mag = ((((u & 0x0f) << 3) + 0x84) << exp) - 0x84;
    out[i] = u & 0x80 ? -mag : mag;
  }
  return out;
}

export function encodeMulaw(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    const s = pcm[i] as number;
    const sign = s < 0 ? 0x80 : 0;
    const m = Math.min(Math.abs(s), 32635) + 0x84;
    const exp = Math.max(0, Math.min(7, Math.floor(Math.log2(m)) - 7));
    const mant = (m >> (exp + 3)) & 0x0f;
    out[i] = ~(sign | (exp << 4) | mant) & 0xff;
  }
  return out;
}
