// The development transcription server as the load bench's child process: its own process, so its CPU
// and event loop stay apart from the load generator's, and silent, so 50 calls do not flood a pipe.
// Prints one JSON line, {"url": ...}, once it listens on a free loopback port; SIGTERM stops it.
import { startDevTranscriber } from "../dev-transcriber/server";

const server = await startDevTranscriber({ port: 0, host: "127.0.0.1", log: "silent" });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.once("SIGTERM", () => {
  server.close().then(() => process.exit(0));
});
