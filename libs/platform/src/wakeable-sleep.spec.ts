import { WakeableSleep } from './wakeable-sleep';

const elapsed = async (work: () => Promise<void>) => {
  const started = Date.now();
  await work();
  return Date.now() - started;
};

describe('WakeableSleep', () => {
  it('ends a sleep early when woken', async () => {
    const pause = new WakeableSleep();
    setTimeout(() => pause.wake(), 10);
    expect(await elapsed(() => pause.sleep(5_000))).toBeLessThan(1_000);
  });

  it('keeps a wake that came while busy, so the next sleep returns at once', async () => {
    const pause = new WakeableSleep();
    pause.wake();
    expect(await elapsed(() => pause.sleep(5_000))).toBeLessThan(100);
  });

  it('lets a back-off forget that wake and sleep its full time', async () => {
    const pause = new WakeableSleep();
    pause.wake();
    pause.forgetPendingWake();
    expect(await elapsed(() => pause.sleep(150))).toBeGreaterThanOrEqual(140);
  });
});
