// Work that must happen in order but may await (building transcript events: their ids are digests).
// A failed task is reported and the queue goes on: one bad result must not silence the rest of the call.

export class OrderedTasks {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Runs `task` after every task queued before it has finished (or failed). */
  run(task: () => void | Promise<void>): void {
    this.tail = this.tail.then(task).catch((err: unknown) => this.onError(err));
  }
}
