// The configuration that picks how the service is reached: TRANSCRIPTION_PROTOCOL and a TRANSCRIPTION_SERVICE
// binding (serviceFetch itself runs against a real binding in test/workers-binding).
import { describe, expect, it } from "vitest";
import { parseConfig, SERVICE_BINDING_URL } from "../../../src/config.js";
import { serviceFetch, usesServiceBinding } from "../../../src/forward/service-fetch.js";

const base = { AUDIOHOOK_API_KEY: "a", AUDIOHOOK_CLIENT_SECRET: "" };

describe("TRANSCRIPTION_PROTOCOL", () => {
  it("defaults to connect and accepts grpc-web", () => {
    expect(parseConfig(base)).toMatchObject({ ok: true, config: { transcriptionProtocol: "connect" } });
    expect(parseConfig({ ...base, TRANSCRIPTION_PROTOCOL: "" })).toMatchObject({
      config: { transcriptionProtocol: "connect" },
    });
    expect(parseConfig({ ...base, TRANSCRIPTION_PROTOCOL: "grpc-web" })).toMatchObject({
      config: { transcriptionProtocol: "grpc-web" },
    });
  });

  it("refuses plain grpc with a message naming the choices", () => {
    expect(parseConfig({ ...base, TRANSCRIPTION_PROTOCOL: "grpc" })).toEqual({
      ok: false,
      error: "TRANSCRIPTION_PROTOCOL must be connect or grpc-web",
    });
  });
});

describe("TRANSCRIPTION_SERVICE binding", () => {
  const binding = { fetch: async () => new Response("from the binding") };

  it("forwards without TRANSCRIPTION_URL when bound, and keeps an explicit URL", () => {
    expect(parseConfig(base)).toMatchObject({ config: { transcriptionUrl: null } });
    expect(parseConfig({ ...base, TRANSCRIPTION_SERVICE: binding })).toMatchObject({
      config: { transcriptionUrl: SERVICE_BINDING_URL },
    });
    expect(
      parseConfig({ ...base, TRANSCRIPTION_SERVICE: binding, TRANSCRIPTION_URL: "https://stt.internal/v1/" }),
    ).toMatchObject({ config: { transcriptionUrl: "https://stt.internal/v1" } });
  });

  it("is not mistaken for a string variable of the same name", () => {
    expect(usesServiceBinding({ TRANSCRIPTION_SERVICE: "stt" })).toBe(false);
    expect(parseConfig({ ...base, TRANSCRIPTION_SERVICE: "stt" })).toMatchObject({
      config: { transcriptionUrl: null },
    });
  });

  it("sends through the binding's fetch when there is one", async () => {
    const init = {
      method: "POST",
      headers: new Headers(),
      body: null,
      redirect: "manual",
      duplex: "half",
    } as const;
    const res = await serviceFetch({ TRANSCRIPTION_SERVICE: binding })(
      "https://transcription-service/x",
      init,
    );
    expect(await res.text()).toBe("from the binding");
  });
});
