// Runs in Node before the workerd tests: starts the real servers the worker talks to on loopback
// and hands their URLs to the worker's bindings (see vitest.config.ts).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { startDevTranscriber } from "../../tools/dev-transcriber/server";
import { startOAuthServer } from "../support/oauth-server";

declare module "vitest" {
  export interface ProvidedContext {
    oauthTokenUrl: string;
    oauthStatsUrl: string;
    transcriberUrl: string;
    /** Committed espeak-ng clips (µ-law, 8 kHz), base64: workerd tests cannot read files. */
    speechClips: Record<"es" | "fr", string>;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const oauth = await startOAuthServer({ expiresIn: 3600 });
  project.provide("oauthTokenUrl", oauth.url);
  project.provide("oauthStatsUrl", new URL("/stats", oauth.url).toString());
  const transcriber = await startDevTranscriber({ port: 0, host: "127.0.0.1", log: "silent" });
  project.provide("transcriberUrl", transcriber.url);
  const clip = (name: string) =>
    readFileSync(fileURLToPath(new URL(`../unit/detect/fixtures/${name}.ul`, import.meta.url))).toString(
      "base64",
    );
  project.provide("speechClips", { es: clip("speech-es"), fr: clip("speech-fr") });
  return async () => {
    await Promise.all([oauth.close(), transcriber.close()]);
  };
}
