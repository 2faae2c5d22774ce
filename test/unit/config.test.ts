import { describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS, parseConfig } from "../../src/config";

describe("configuration", () => {
  it("pairs keys and secrets by position and applies defaults", () => {
    const result = parseConfig({
      AUDIOHOOK_API_KEY: "a, b,c",
      AUDIOHOOK_CLIENT_SECRET: "c2VjcmV0,,c2VjcmV0Mg==",
    });
    expect(result.ok && result.config.credentials).toEqual([
      { apiKey: "a", secret: "c2VjcmV0" },
      { apiKey: "b", secret: "" },
      { apiKey: "c", secret: "c2VjcmV0Mg==" },
    ]);
    expect(result.ok && result.config.authFailureDelayMs).toBe(CONFIG_DEFAULTS.AUTH_FAILURE_DELAY_MS);
  });

  it("explains what is wrong", () => {
    expect(parseConfig({})).toMatchObject({
      ok: false,
      error: expect.stringMatching(/AUDIOHOOK_API_KEY is not set/),
    });
    expect(parseConfig({ AUDIOHOOK_API_KEY: "a,b", AUDIOHOOK_CLIENT_SECRET: "" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/2 entries but AUDIOHOOK_CLIENT_SECRET has 1/),
    });
    expect(
      parseConfig({ AUDIOHOOK_API_KEY: "a", AUDIOHOOK_CLIENT_SECRET: "", MAX_FRAME_MS: "lots" }),
    ).toMatchObject({
      ok: false,
      error: expect.stringMatching(/MAX_FRAME_MS must be a number/),
    });
  });

  it("reads the transcription service settings, all or nothing for OAuth", () => {
    const base = { AUDIOHOOK_API_KEY: "a", AUDIOHOOK_CLIENT_SECRET: "" };
    const plain = parseConfig({ ...base, TRANSCRIPTION_URL: "https://stt.example.com/" });
    expect(plain.ok && plain.config.transcriptionUrl).toBe("https://stt.example.com");
    expect(plain.ok && plain.config.transcriptionOAuth).toBeNull();
    expect(
      parseConfig({ ...base, TRANSCRIPTION_TOKEN_URL: "https://login.example.com/oauth/token" }),
    ).toMatchObject({
      ok: false,
      error: expect.stringMatching(/set all of TRANSCRIPTION_TOKEN_URL, TRANSCRIPTION_CLIENT_ID/),
    });
    const oauth = parseConfig({
      ...base,
      TRANSCRIPTION_TOKEN_URL: "https://login.example.com/oauth/token",
      TRANSCRIPTION_CLIENT_ID: "id",
      TRANSCRIPTION_CLIENT_SECRET: "secret",
    });
    expect(oauth.ok && oauth.config.transcriptionOAuth).toMatchObject({ clientId: "id", scope: undefined });
    expect(parseConfig({ ...base, TRANSCRIPTION_URL: "not a url" })).toMatchObject({ ok: false });
  });

  it("refuses a media-api HS256 secret under 32 bytes, and takes one of 32", () => {
    const base = { AUDIOHOOK_API_KEY: "a", AUDIOHOOK_CLIENT_SECRET: "" };
    expect(parseConfig({ ...base, MEDIA_API_JWT_SECRET: "short-secret" })).toEqual({
      ok: false,
      error: "MEDIA_API_JWT_SECRET is 12 bytes; an HS256 secret must be at least 32 bytes",
    });
    // Bytes, not characters: 16 two-byte characters are enough.
    const ok = parseConfig({ ...base, MEDIA_API_JWT_SECRET: "é".repeat(16) });
    expect(ok.ok && ok.config.mediaApi?.secret).toBe("é".repeat(16));
  });

  it("reads the acoustic commit threshold as a percentage", () => {
    const base = { AUDIOHOOK_API_KEY: "a", AUDIOHOOK_CLIENT_SECRET: "" };
    const byDefault = parseConfig(base);
    expect(byDefault.ok && byDefault.config.acousticCommitConfidence).toBe(0.9);
    const lower = parseConfig({ ...base, ACOUSTIC_COMMIT_PERCENT: "75" });
    expect(lower.ok && lower.config.acousticCommitConfidence).toBe(0.75);
    expect(parseConfig({ ...base, ACOUSTIC_COMMIT_PERCENT: "100" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/ACOUSTIC_COMMIT_PERCENT must be at most 99/),
    });
    expect(parseConfig({ ...base, ACOUSTIC_COMMIT_PERCENT: "0.9" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/ACOUSTIC_COMMIT_PERCENT must be an integer/),
    });
  });
});
