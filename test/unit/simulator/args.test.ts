import { describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../../../tools/simulator/args";
import { DEV_API_KEY, DEV_SECRET } from "../../../tools/simulator/call";

const run = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseSimulateArgs(argv, env);
  if (parsed.kind !== "run") throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
};
const error = (argv: string[]) => {
  const parsed = parseSimulateArgs(argv);
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.error;
};

describe("simulate arguments", () => {
  it("keeps the single-file mode: one call, the file's own length, the development credentials", () => {
    const o = run(["call.wav"]);
    expect(o).toMatchObject({
      wav: "call.wav",
      tone: false,
      seconds: null,
      sessions: 1,
      language: "en-US",
      format: "PCMU",
      frameMs: 100,
      speed: 1,
      apiKey: DEV_API_KEY,
      secret: DEV_SECRET,
      url: "ws://127.0.0.1:8787/api/v1/voicetranscription/ws",
    });
  });

  it("runs N tone calls with a length, staggered, and sends no language for none", () => {
    const o = run([
      "--tone",
      "--seconds",
      "12.5",
      "--sessions",
      "20",
      "--stagger-ms",
      "50",
      "--language",
      "none",
    ]);
    expect(o).toMatchObject({
      wav: null,
      tone: true,
      seconds: 12.5,
      sessions: 20,
      staggerMs: 50,
      language: null,
    });
    expect(o.toneChannels).toBe(2);
    expect(run(["--tone"]).seconds).toBe(30);
    expect(run(["--tone", "--channels", "mono"]).toneChannels).toBe(1);
  });

  it("takes credentials from the environment (first of a list), flags winning, an empty secret unsigned", () => {
    const env = { AUDIOHOOK_API_KEY: "k1,k2", AUDIOHOOK_CLIENT_SECRET: "czE=,czI=" };
    expect(run(["a.wav"], env)).toMatchObject({ apiKey: "k1", secret: "czE=" });
    expect(run(["a.wav", "--api-key", "x", "--secret", ""], env)).toMatchObject({
      apiKey: "x",
      secret: null,
    });
  });

  it("accepts L16 in any case and wss URLs", () => {
    expect(run(["a.wav", "--format", "l16"]).format).toBe("L16");
    expect(run(["a.wav", "--url", "wss://gw.example.com/api/v1/audiohook/ws"]).url).toBe(
      "wss://gw.example.com/api/v1/audiohook/ws",
    );
  });

  it("says what is wrong with bad input", () => {
    expect(error([])).toMatch(/give a WAV file or --tone/);
    expect(error(["a.wav", "--tone"])).toMatch(/not both/);
    expect(error(["a.wav", "b.wav"])).toMatch(/one WAV file at most/);
    expect(error(["--tone", "--sessions", "0"])).toMatch(/--sessions must be an integer from 1/);
    expect(error(["--tone", "--sessions", "2.5"])).toMatch(/--sessions must be an integer/);
    expect(error(["--tone", "--seconds", "soon"])).toMatch(/--seconds must be a number/);
    expect(error(["--tone", "--frame-ms", "5"])).toMatch(/--frame-ms must be an integer from 10 to 1000/);
    expect(error(["--tone", "--format", "OPUS"])).toMatch(/PCMU or L16/);
    expect(error(["--tone", "--url", "http://x"])).toMatch(/ws:\/\/ or wss:\/\//);
    expect(error(["--tone", "--url", "nope"])).toMatch(/not a URL/);
    expect(error(["a.wav", "--channels", "mono"])).toMatch(/--channels applies to --tone/);
    expect(error(["--tone", "--language", ""])).toMatch(/--language/);
    expect(error(["--tone", "--bogus"])).toMatch(/bogus/);
  });

  it("answers --help", () => {
    expect(parseSimulateArgs(["--help"])).toEqual({ kind: "help" });
  });
});
