// Runs in Node before the worker → bridge → seed-service tests: starts the seed-contract server
// (@grpc/grpc-js), the bridge in front of it, and a small HTTP control endpoint through which the tests
// (inside workerd, where neither can be reached directly) read what the service processed and inject faults.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { parseBridgeConfig } from "../../tools/bridge/config";
import { startBridge } from "../../tools/bridge/server";
import { startSeedServer } from "../support/seed-server";

declare module "vitest" {
  export interface ProvidedContext {
    bridgeUrl: string;
    seedControlUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const seed = await startSeedServer({ textEvery: 5 });
  const parsed = parseBridgeConfig(
    [
      "--upstream",
      seed.url,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--retry-base-ms",
      "50",
      "--retry-max-ms",
      "500",
    ],
    {},
  );
  if (parsed.ok !== true) throw new Error(`bridge config: ${parsed.ok === false ? parsed.error : "help"}`);
  const bridge = await startBridge(parsed.config, () => {});
  const control = http.createServer(async (req, res) => {
    let text = "";
    for await (const part of req) text += String(part);
    const body = (text === "" ? {} : JSON.parse(text)) as Record<string, number | string>;
    const send = (status: number, json?: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(json === undefined ? "" : JSON.stringify(json));
    };
    switch (req.url) {
      case "/streams":
        return send(
          200,
          Object.fromEntries(
            [...seed.streams].map(([key, s]) => [key, { processed: s.processed, duplicates: s.duplicates }]),
          ),
        );
      case "/bridge":
        return send(200, bridge.stats());
      case "/break":
        seed.breakAt(String(body.participant), Number(body.sequence));
        return send(204);
      case "/refuse":
        seed.refuse(Number(body.calls), Number(body.retryAfterMs));
        return send(204);
      case "/down":
        await seed.stop();
        setTimeout(() => void seed.start(), Number(body.ms));
        return send(204);
      default:
        return send(404);
    }
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  project.provide("bridgeUrl", bridge.url);
  project.provide("seedControlUrl", `http://127.0.0.1:${(control.address() as AddressInfo).port}`);
  return async () => {
    await bridge.close();
    await seed.close();
    await new Promise<void>((resolve) => control.close(() => resolve()));
  };
}
