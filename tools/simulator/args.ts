// The simulator's command line, parsed into checked options. Pure: argv and env in, options or a
// specific error out (main.ts prints it with the usage).

import { parseArgs } from "node:util";
import type { AudioFormat } from "./audio";
import { DEV_API_KEY, DEV_ORG, DEV_SECRET } from "./call";

export const USAGE = `usage: npm run simulate -- [file.wav | --tone] [options]

  file.wav              stream this file (mono = customer; stereo = customer left, agent right)
  --tone                stream a synthetic two-party tone conversation instead of a file
  --seconds S           audio length per call (default: the file's length; 30 with --tone);
                        a file shorter than S is looped
  --sessions N          run N concurrent calls from this process (default 1)
  --stagger-ms MS       delay between the starts of consecutive calls (default 100)
  --channels mono|stereo   channels of the tone (default stereo)
  --language TAG|none   language sent in open (default en-US); none sends no language
  --format PCMU|L16     audio format offered and sent (default PCMU)
  --frame-ms MS         audio per binary frame, 10-1000 (default 100)
  --speed X             1 = real time, 2 = twice as fast, 0 = as fast as possible (default 1)
  --ping-ms MS          interval between pings (default 5000)
  --url URL             default ws://127.0.0.1:8787/api/v1/voicetranscription/ws
  --api-key K --secret S --org ID   credentials (default: the development pair; --secret "" = unsigned)
  --verbose             with several sessions, print every session's messages too
  --json FILE           also write the summary as JSON to FILE

Exit status: 0 when every call completed, 1 when a call failed or the server broke the protocol,
2 for bad arguments.`;

export interface SimulateOptions {
  wav: string | null;
  tone: boolean;
  /** null: the file's own length. */
  seconds: number | null;
  sessions: number;
  staggerMs: number;
  toneChannels: 1 | 2;
  language: string | null;
  format: AudioFormat;
  frameMs: number;
  speed: number;
  pingMs: number;
  url: string;
  apiKey: string;
  secret: string | null;
  organizationId: string;
  verbose: boolean;
  json: string | null;
}

export type ParsedArgs =
  | { kind: "run"; options: SimulateOptions }
  | { kind: "help" }
  | { kind: "error"; error: string };

function numberOption(name: string, text: string, min: number, max: number, integer = false): number {
  const value = Number(text);
  if (
    text.trim() === "" ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    throw new Error(
      `--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

export function parseSimulateArgs(argv: string[], env: Record<string, string | undefined> = {}): ParsedArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return { kind: "error", error: err instanceof Error ? err.message : String(err) };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  try {
    if (positionals.length > 1) throw new Error(`one WAV file at most, got ${positionals.length}`);
    const wav = positionals[0] ?? null;
    if (wav !== null && values.tone) throw new Error("give a WAV file or --tone, not both");
    if (wav === null && !values.tone) throw new Error("give a WAV file or --tone");
    const format = values.format.toUpperCase();
    if (format !== "PCMU" && format !== "L16")
      throw new Error(`--format is PCMU or L16, got ${JSON.stringify(values.format)}`);
    if (values.channels !== "mono" && values.channels !== "stereo") {
      throw new Error(`--channels is mono or stereo, got ${JSON.stringify(values.channels)}`);
    }
    if (values.channels === "mono" && wav !== null)
      throw new Error("--channels applies to --tone; a file has its own");
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new Error(`--url is not a URL: ${JSON.stringify(values.url)}`);
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:")
      throw new Error(`--url must be ws:// or wss://, got ${url.protocol}`);
    const language = values.language === "none" ? null : values.language;
    if (language === "") throw new Error('--language is a tag such as en-US, or "none"');
    const seconds =
      values.seconds === undefined
        ? values.tone
          ? 30
          : null
        : numberOption("seconds", values.seconds, 0.02, 86_400);
    const apiKey = values["api-key"] ?? env.AUDIOHOOK_API_KEY?.split(",")[0] ?? DEV_API_KEY;
    const secret = values.secret ?? env.AUDIOHOOK_CLIENT_SECRET?.split(",")[0] ?? DEV_SECRET;
    return {
      kind: "run",
      options: {
        wav,
        tone: values.tone,
        seconds,
        sessions: numberOption("sessions", values.sessions, 1, 10_000, true),
        staggerMs: numberOption("stagger-ms", values["stagger-ms"], 0, 600_000),
        toneChannels: values.channels === "mono" ? 1 : 2,
        language,
        format,
        frameMs: numberOption("frame-ms", values["frame-ms"], 10, 1000, true),
        speed: numberOption("speed", values.speed, 0, 1000),
        pingMs: numberOption("ping-ms", values["ping-ms"], 100, 600_000),
        url: url.toString(),
        apiKey,
        secret: secret === "" ? null : secret,
        organizationId: values.org,
        verbose: values.verbose,
        json: values.json ?? null,
      },
    };
  } catch (err) {
    return { kind: "error", error: err instanceof Error ? err.message : String(err) };
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      tone: { type: "boolean", default: false },
      seconds: { type: "string" },
      sessions: { type: "string", default: "1" },
      "stagger-ms": { type: "string", default: "100" },
      channels: { type: "string", default: "stereo" },
      url: { type: "string", default: "ws://127.0.0.1:8787/api/v1/voicetranscription/ws" },
      language: { type: "string", default: "en-US" },
      format: { type: "string", default: "PCMU" },
      "frame-ms": { type: "string", default: "100" },
      speed: { type: "string", default: "1" },
      "ping-ms": { type: "string", default: "5000" },
      "api-key": { type: "string" },
      secret: { type: "string" },
      org: { type: "string", default: DEV_ORG },
      verbose: { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}
