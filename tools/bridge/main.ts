// Command line of the bridge: `npm run bridge -- --upstream http://stt:50051` (see tools/bridge/README.md).
import { parseBridgeConfig } from "./config.js";
import { jsonLog, startBridge } from "./server.js";

const parsed = parseBridgeConfig(process.argv.slice(2), process.env);
if (parsed.ok === "help") {
  process.stdout.write(parsed.text);
  process.exit(0);
}
if (!parsed.ok) {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), event: "config-invalid", error: parsed.error })}\n`,
  );
  process.exit(2);
}
const log = jsonLog();
const bridge = await startBridge(parsed.config, log);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log("stopping", { signal });
    bridge
      .drain(parsed.config.flushWaitMs)
      .then(() => bridge.close())
      .then(() => process.exit(0));
  });
}
