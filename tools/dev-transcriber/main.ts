// Command line for the development transcription server:
//   node --import tsx tools/dev-transcriber/main.ts [--port 50051] [--host 127.0.0.1] [--record DIR]
//     [--report-language es-ES] [--token SECRET] [--interim-ms 1000]
// DEV_TRANSCRIBER_PORT, DEV_TRANSCRIBER_HOST and DEV_TRANSCRIBER_TOKEN work too; flags win.
import { parseArgs } from "node:util";
import { startDevTranscriber } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string" },
    record: { type: "string" },
    "report-language": { type: "string" },
    token: { type: "string" },
    "interim-ms": { type: "string" },
  },
});

const port = Number(values.port ?? process.env.DEV_TRANSCRIBER_PORT ?? 50051);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${values.port ?? process.env.DEV_TRANSCRIBER_PORT}`);
  process.exit(2);
}

const server = await startDevTranscriber({
  port,
  host: values.host ?? process.env.DEV_TRANSCRIBER_HOST ?? "127.0.0.1",
  record: values.record,
  reportLanguage: values["report-language"],
  token: values.token ?? process.env.DEV_TRANSCRIBER_TOKEN,
  interimMs: values["interim-ms"] === undefined ? undefined : Number(values["interim-ms"]),
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close().then(() => process.exit(0));
  });
}
