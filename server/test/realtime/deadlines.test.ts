import { describe, expect, it, vi } from 'vitest';
import { Deadlines } from '../../src/realtime/deadlines.js';

describe('Deadlines (one timer for every connection’s token expiry)', () => {
  it('runs each deadline once it has passed, never before, in order; cancelled ones never', async () => {
    const deadlines = new Deadlines(50);
    const start = Date.now();
    const ran: Array<{ name: string; late: number }> = [];
    const add = (name: string, inMs: number) => {
      const at = start + inMs;
      const target = { due: () => void ran.push({ name, late: Date.now() - at }) };
      return { tick: deadlines.at(at, target), target };
    };
    add('b', 240);
    add('a', 120);
    const cancelled = add('cancelled', 150);
    add('a-twin', 120);
    deadlines.cancel(cancelled.tick, cancelled.target);
    expect(deadlines.size).toBe(3);
    await vi.waitFor(() => expect(ran).toHaveLength(3), { timeout: 5_000 });
    expect(ran.map((r) => r.name)).toEqual(['a', 'a-twin', 'b']);
    for (const { late } of ran) expect(late).toBeGreaterThanOrEqual(0);
    expect(deadlines.size).toBe(0);
    deadlines.stop();
  });

  it('runs a deadline that has already passed at once', () => {
    const deadlines = new Deadlines();
    let ran = false;
    deadlines.at(Date.now() - 1, { due: () => void (ran = true) });
    expect(ran).toBe(true);
    expect(deadlines.size).toBe(0);
  });
});
