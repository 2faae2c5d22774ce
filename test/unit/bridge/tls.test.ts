// TLS on both sides of the bridge: the seed service served over gRPC with TLS (the bridge trusts its CA
// through --upstream-ca) and the bridge itself served over HTTPS (--tls-cert/--tls-key), HTTP/2 and HTTP/1.1
// by ALPN. The certificate is made for the test by openssl (skipped where openssl is missing).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FlushReason,
  TranscriptionService,
} from "../../../src/gen/langhook/transcription/v1/transcription_pb.js";
import { parseBridgeConfig } from "../../../tools/bridge/config.js";
import { type Bridge, startBridge } from "../../../tools/bridge/server.js";
import { type SeedServer, startSeedServer } from "../../support/seed-server.js";
import { callAudio } from "./driver.js";

const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), "bridge-tls-"));
let ca: Buffer;
let seed: SeedServer;
let bridge: Bridge;

beforeAll(async () => {
  if (!hasOpenssl) return;
  // One self-signed certificate for 127.0.0.1, used by both servers and trusted as the CA by both clients.
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  ca = readFileSync(join(dir, "cert.pem"));
  seed = await startSeedServer({ tls: { cert: ca, key: readFileSync(join(dir, "key.pem")) } });
  const parsed = parseBridgeConfig(
    [
      "--upstream",
      seed.url,
      "--upstream-ca",
      join(dir, "cert.pem"),
      "--tls-cert",
      join(dir, "cert.pem"),
      "--tls-key",
      join(dir, "key.pem"),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ],
    {},
  );
  if (parsed.ok !== true) throw new Error("config");
  bridge = await startBridge(parsed.config, () => {});
});
afterAll(async () => {
  await bridge?.close();
  await seed?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasOpenssl)("the bridge with TLS on both sides", () => {
  it.each<[string, () => Transport]>([
    [
      "Connect, HTTP/1.1",
      () => createConnectTransport({ baseUrl: bridge.url, httpVersion: "1.1", nodeOptions: { ca } }),
    ],
    ["gRPC, HTTP/2", () => createGrpcTransport({ baseUrl: bridge.url, nodeOptions: { ca } })],
  ])("carries a call to a TLS gRPC service (%s to the bridge)", async (name, transport) => {
    expect(seed.url).toMatch(/^https:/);
    expect(bridge.url).toMatch(/^https:/);
    const client = createClient(TranscriptionService, transport());
    const sessionId = `tls-${name}`;
    const pushed = await client.pushAudio({ sessionId, chunks: callAudio(sessionId, 5) });
    expect(pushed.acks.map((a) => a.sequenceNumber)).toEqual([5n, 5n]);
    const flushed = await client.flushSession({
      sessionId,
      reason: FlushReason.CLOSED,
      endSession: true,
      lastResultSequenceNumber: pushed.results.at(-1)?.sequenceNumber ?? 0n,
    });
    expect([...pushed.results, ...flushed.results].map((r) => r.text)).toEqual(["words 1-5", "words 1-5"]);
    expect(seed.streams.get(`conv-${sessionId}/agent`)?.processed).toEqual([1, 2, 3, 4, 5]);
  });
});
