import { MinHeap } from './min-heap';

describe('the timer heap', () => {
  it('pops in key order whatever the push order', () => {
    const heap = new MinHeap<number>((n) => n);
    const keys = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    keys.forEach((k) => heap.push(k));
    const popped: number[] = [];
    while (heap.size > 0) popped.push(heap.pop()!);
    expect(popped).toEqual([...keys].sort((a, b) => a - b));
  });

  it('shows the earliest without removing it', () => {
    const heap = new MinHeap<{ at: number }>((t) => t.at);
    heap.push({ at: 5 });
    heap.push({ at: 2 });
    expect(heap.peek()).toEqual({ at: 2 });
    expect(heap.size).toBe(2);
  });
});
