// The CALL_METRICS of the metrics tests: a service binding to this worker's Recorder entrypoint. Workers
// Analytics Engine has no local read path (miniflare's dataset accepts and drops every point), so the recorder
// passes each point on to a real (local) Analytics Engine dataset binding and keeps a copy the test can read.

import { WorkerEntrypoint } from "cloudflare:workers";

/** Points written, in order, shared by every call into this isolate. */
const points = [];

export class Recorder extends WorkerEntrypoint {
  /** The dataset's one method, as the gateway calls it. */
  writeDataPoint(point) {
    this.env.DATASET.writeDataPoint(point);
    points.push(point);
  }

  points() {
    return points;
  }

  clear() {
    points.length = 0;
  }
}

export default {
  fetch() {
    return new Response("metrics recorder: reach it through the Recorder entrypoint\n", { status: 404 });
  },
};
