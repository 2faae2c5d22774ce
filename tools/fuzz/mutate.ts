// Mutated AudioHook input for `npm run fuzz`: a seeded generator of client messages (good ones, and
// good ones broken at the byte, JSON or protocol level) and of binary frames. Pure: same seed, same input.

/** mulberry32: small, fast, seedable; this is test input, not cryptography. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Dice {
  constructor(readonly random: () => number) {}
  int(max: number): number {
    return Math.floor(this.random() * max);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

export const ORG_ID = "d7934305-0972-4844-938e-9060eef73d05";

/** What the client's numbers are when it builds a message. */
export interface ClientCursor {
  sessionId: string;
  seq: number;
  serverseq: number;
  /** Seconds of audio sent. */
  position: number;
}

const position = (seconds: number) => `PT${Number(seconds.toFixed(3))}S`;

/** Values chosen to hit edges: huge and tiny numbers, long strings, wrong types, odd durations. */
const NASTY: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 53,
  1e308,
  -1e308,
  "",
  "x".repeat(10_000),
  "\u0000\uffff\ud800",
  [],
  {},
  { __proto__: { polluted: true } },
  [[[[[[[[[[]]]]]]]]]],
  `PT${"9".repeat(400)}S`,
  "PT3000000000000000S",
  "PT86400S",
  "PT86400.001S",
  "PT-1S",
  "PT1e3S",
  "PT.5S",
  "P1D",
  "00000000-0000-0000-0000-000000000000",
  "not-a-uuid",
  "en-US",
  "zz-ZZ-ZZZZZZZZZ",
];

function nasty(dice: Dice): unknown {
  if (dice.chance(0.2)) return dice.random() * 10 ** dice.int(20) * (dice.chance(0.5) ? 1 : -1);
  return structuredClone(dice.pick(NASTY));
}

function parametersFor(type: string, dice: Dice, cursor: ClientCursor): Record<string, unknown> {
  switch (type) {
    case "open":
      return {
        organizationId: ORG_ID,
        conversationId: crypto.randomUUID(),
        participant: { id: crypto.randomUUID(), ani: "+15551230000", aniName: "Fuzz", dnis: "+15557650000" },
        media: [
          {
            type: "audio",
            format: dice.pick(["PCMU", "L16"]),
            channels: dice.pick([["external", "internal"], ["external"], ["internal"]]),
            rate: 8000,
          },
        ],
        language: dice.pick(["en-US", "es-ES", "fr-FR"]),
        ...(dice.chance(0.3) ? { supportedLanguages: true } : {}),
      };
    case "ping":
      return dice.chance(0.5) ? { rtt: position(dice.random()) } : {};
    case "resumed":
      return { start: position(cursor.position), discarded: position(dice.random() * 5) };
    case "discarded":
      return { start: position(cursor.position), discarded: position(dice.random() * 5) };
    case "update":
      return { language: dice.pick(["en-US", "es-ES", "de-DE"]) };
    case "error":
      return { code: dice.pick([400, 408, 429, 500]), message: "fuzz" };
    case "close":
      return { reason: "end" };
    default:
      return {};
  }
}

// Weighted by repetition: mostly traffic that keeps a call going, sometimes what ends or breaks it.
const TYPES = [
  ...Array<string>(6).fill("ping"),
  "paused",
  "resumed",
  "resumed",
  "update",
  "discarded",
  "discarded",
  "error",
  "open",
  "close",
];

/** A message as a well-behaved client would send it next. Advances `cursor.seq`. */
export function goodMessage(
  type: string,
  cursor: ClientCursor,
  dice: Dice,
  parameters?: Record<string, unknown>,
): Record<string, unknown> {
  cursor.seq += 1;
  return {
    version: "2",
    id: cursor.sessionId,
    type,
    seq: cursor.seq,
    serverseq: cursor.serverseq,
    position: position(cursor.position),
    parameters: parameters ?? parametersFor(type, dice, cursor),
  };
}

const KEYS = ["version", "id", "type", "seq", "serverseq", "position", "parameters"];

/** One mutation of a message: JSON-level (fields), protocol-level (numbers, type) or byte-level. */
export function mutate(message: Record<string, unknown>, dice: Dice): string {
  const m = structuredClone(message);
  const params = (typeof m.parameters === "object" && m.parameters !== null ? m.parameters : {}) as Record<
    string,
    unknown
  >;
  switch (dice.int(10)) {
    case 0:
      delete m[dice.pick(KEYS)];
      break;
    case 1:
      m[dice.pick(KEYS)] = nasty(dice);
      break;
    case 2: {
      const keys = Object.keys(params);
      if (keys.length > 0 && dice.chance(0.5)) params[dice.pick(keys)] = nasty(dice);
      else
        params[dice.pick(["start", "discarded", "language", "rtt", "media", "reason", "code"])] = nasty(dice);
      m.parameters = params;
      break;
    }
    case 3:
      m.type = dice.pick([...TYPES, "pong", "opened", "closed", "disconnect", "dance", "", "OPEN"]);
      break;
    case 4:
      m.seq = (m.seq as number) + dice.pick([-2, -1, 1, 2, 1000, -(m.seq as number)]);
      break;
    case 5:
      m.serverseq = dice.pick([(m.serverseq as number) + 1, (m.serverseq as number) + 100, -1, 1.5]);
      break;
    case 6:
      m.position = dice.pick([
        "PT0S",
        position(Math.max(0, (dice.random() - 0.5) * 10)),
        `PT${"9".repeat(400)}S`,
        "PT86400S",
        "PT3000000000000000S",
      ]);
      break;
    case 7: {
      // Byte level: truncate, or overwrite one character with JSON's structural ones.
      const text = JSON.stringify(m);
      const at = dice.int(text.length + 1);
      return dice.chance(0.5)
        ? text.slice(0, at)
        : text.slice(0, at) +
            dice.pick(["{", "}", '"', "\\", ",", ":", "0", "\u0000", "😀"]) +
            text.slice(at + 1);
    }
    case 8:
      // Oversize: past the 64 KiB message limit, or just under it.
      params.padding = "x".repeat(dice.chance(0.5) ? 70 * 1024 : 60 * 1024);
      m.parameters = params;
      break;
    default:
      m.id = dice.pick([crypto.randomUUID(), "", 42, (m.id as string).toUpperCase()]);
      break;
  }
  return JSON.stringify(m);
}

/** A binary frame: mostly plausible audio sizes, sometimes odd, empty or oversize. */
export function audioFrame(dice: Dice): Uint8Array {
  const size = dice.pick([160, 320, 320, 1600, 0, 1, 161, 17_000, dice.int(20_000)]);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = dice.int(256);
  return bytes;
}

export function randomType(dice: Dice): string {
  return dice.pick(TYPES);
}
