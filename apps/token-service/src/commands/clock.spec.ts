import { pooledRandom, ulidTokenIds } from './clock';

describe('token ids', () => {
  it('are lower-case ULIDs, unique and in creation order', () => {
    const ids = ulidTokenIds();
    const made = Array.from({ length: 10_000 }, () => ids.next());
    for (const id of made) expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{26}$/);
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
  });

  it('draw every one of the 32 characters with equal chance', () => {
    const random = pooledRandom(64);
    const counts = new Array<number>(32).fill(0);
    // Across several refills of the pool: each draw is a byte / 256, so floor(× 32) is byte >> 3.
    let [lowest, highest] = [1, 0];
    for (let i = 0; i < 320_000; i++) {
      const value = random();
      [lowest, highest] = [Math.min(lowest, value), Math.max(highest, value)];
      counts[Math.floor(value * 32)]++;
    }
    expect(lowest).toBeGreaterThanOrEqual(0);
    expect(highest).toBeLessThan(1);
    // 10,000 expected per character; a fair source stays well within ±5 % (about 5 standard deviations).
    expect(counts.filter((count) => Math.abs(count - 10_000) >= 500)).toEqual([]);
  });
});
