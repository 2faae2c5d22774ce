import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import type { ProvidedContext } from "vitest";
import { defineConfig } from "vitest/config";

type Inject = <K extends keyof ProvidedContext>(key: K) => ProvidedContext[K];

/** What a project adds to the common setup, computed from what its global setups provide. */
interface ProjectExtras {
  bindings?: (inject: Inject) => Record<string, string>;
  /** Further miniflare options: auxiliary workers, service bindings. */
  miniflare?: (inject: Inject) => Record<string, unknown>;
  /** Run after test/workers/global-setup.ts. */
  globalSetup?: string[];
}

/**
 * A project that runs test files inside workerd, with the worker's bindings plus `overrides`, and the
 * `extras` of its own.
 */
function workersProject(
  name: string,
  include: string[],
  overrides: Record<string, string> = {},
  extras: ProjectExtras = {},
) {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // The test pool does not read .dev.vars: give it the development pair explicitly,
          // plus a second key that is configured without a secret (unsigned upgrades allowed).
          bindings: {
            AUDIOHOOK_API_KEY: "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh,dW5zaWduZWQta2V5LWZvci10ZXN0cw",
            AUDIOHOOK_CLIENT_SECRET: "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU=,",
            AUTH_FAILURE_DELAY_MS: "50",
            DISCONNECT_GRACE_MS: "300",
            LOG_LEVEL: "error",
            // Real servers on loopback, started by global-setup.ts.
            TRANSCRIPTION_TOKEN_URL: inject("oauthTokenUrl"),
            TRANSCRIPTION_CLIENT_ID: "langhook-test",
            TRANSCRIPTION_CLIENT_SECRET: "test-client-secret",
            OAUTH_STATS_URL: inject("oauthStatsUrl"),
            TRANSCRIPTION_URL: inject("transcriberUrl"),
            CLOSE_FLUSH_TIMEOUT_MS: "8000",
            MEDIA_API_JWT_SECRET: "langhook-development-media-api-secret-0123456789",
            ...overrides,
            ...extras.bindings?.(inject),
          },
          ...extras.miniflare?.(inject),
        },
      })),
    ],
    test: { name, include, globalSetup: ["test/workers/global-setup.ts", ...(extras.globalSetup ?? [])] },
  };
}

// Pure modules in plain Node (fast); the worker and its Durable Objects inside workerd.
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" } },
      workersProject("workers", ["test/workers/**/*.test.ts"]),
      // Limits small enough to reach in a test: a 1 s outbox.
      workersProject("workers-limits", ["test/workers-limits/**/*.test.ts"], { OUTBOX_MAX_SECONDS: "1" }),
      // The worker speaking gRPC-web to the dev transcriber: the forwarding tests (outage, RESOURCE_EXHAUSTED,
      // refused token) again, and a check that gRPC-web, not Connect, went over the wire.
      workersProject(
        "workers-grpc-web",
        ["test/workers/forwarding.test.ts", "test/workers-grpc-web/**/*.test.ts"],
        { TRANSCRIPTION_PROTOCOL: "grpc-web" },
      ),
      // The transcription service reached through a TRANSCRIPTION_SERVICE binding to a second worker (which
      // relays to the dev transcriber, like a Worker in front of a Container), with no TRANSCRIPTION_URL.
      workersProject(
        "workers-binding",
        ["test/workers-binding/**/*.test.ts"],
        { TRANSCRIPTION_URL: "" },
        {
          miniflare: (inject) => ({
            serviceBindings: { TRANSCRIPTION_SERVICE: "transcription-worker" },
            workers: [
              {
                name: "transcription-worker",
                modules: true,
                scriptPath: "./test/workers-binding/transcription-worker.js",
                compatibilityDate: "2026-08-01",
                bindings: { UPSTREAM_URL: inject("transcriberUrl") },
              },
            ],
          }),
        },
      ),
      // worker → tools/bridge → a seed-contract gRPC service (@grpc/grpc-js), both started by the setup.
      workersProject(
        "workers-bridge",
        ["test/workers-bridge/**/*.test.ts"],
        {},
        {
          globalSetup: ["test/workers-bridge/global-setup.ts"],
          bindings: (inject) => ({
            TRANSCRIPTION_URL: inject("bridgeUrl"),
            SEED_CONTROL_URL: inject("seedControlUrl"),
          }),
        },
      ),
      // CALL_METRICS bound: a recorder worker that passes each point to a real (local) Analytics Engine dataset
      // and keeps a copy to read back (the local dataset drops what it gets); the real dataset bound directly too.
      workersProject(
        "workers-metrics",
        ["test/workers-metrics/**/*.test.ts"],
        {},
        {
          miniflare: () => ({
            serviceBindings: { CALL_METRICS: { name: "metrics-recorder", entrypoint: "Recorder" } },
            analyticsEngineDatasets: { CALL_METRICS_DATASET: { dataset: "langhook_calls" } },
            workers: [
              {
                name: "metrics-recorder",
                modules: true,
                scriptPath: "./test/workers-metrics/recorder-worker.js",
                compatibilityDate: "2026-08-01",
                analyticsEngineDatasets: { DATASET: { dataset: "langhook_calls" } },
              },
            ],
          }),
        },
      ),
    ],
  },
});
