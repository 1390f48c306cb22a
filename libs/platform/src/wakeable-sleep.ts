/**
 * A polling loop's pause that can be cut short: `wake()` ends the current sleep, and a wake
 * that arrives while the loop is busy makes the next sleep return at once, so no wake is lost.
 */
export class WakeableSleep {
  private wakeUp?: () => void;
  private wokenWhileBusy = false;

  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.wokenWhileBusy = true;
  }

  /** Drops a wake that arrived while busy: a back-off after a failure must last its full time. */
  forgetPendingWake(): void {
    this.wokenWhileBusy = false;
  }

  sleep(ms: number): Promise<void> {
    if (this.wokenWhileBusy) {
      this.wokenWhileBusy = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}
