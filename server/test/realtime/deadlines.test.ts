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

  // An idle instance holding connections whose tokens expire in an hour should sleep for that hour, not wake every
  // second to find nothing due: each wake-up of an idle process costs CPU (docs/architecture.md, "CPU at rest").
  it('sleeps until the earliest pending deadline, whichever order they were set in', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      const deadlines = new Deadlines(1000);
      const start = Date.now();
      const ran: string[] = [];
      deadlines.at(start + 60_000, { due: () => void ran.push('in a minute') });
      const soon = { due: () => void ran.push('in ten seconds') };
      const soonTick = deadlines.at(start + 10_000, soon);
      deadlines.at(start + 3_600_000, { due: () => void ran.push('in an hour') });
      expect(vi.getTimerCount()).toBe(1);

      vi.advanceTimersToNextTimer();
      expect(ran).toEqual(['in ten seconds']);
      expect(Date.now() - start).toBeGreaterThanOrEqual(10_000);
      expect(Date.now() - start).toBeLessThan(11_000);

      deadlines.at(Date.now() + 5_000, soon);
      deadlines.cancel(soonTick, soon);
      vi.advanceTimersToNextTimer();
      expect(ran).toEqual(['in ten seconds', 'in ten seconds']);

      vi.advanceTimersToNextTimer();
      expect(ran).toEqual(['in ten seconds', 'in ten seconds', 'in a minute']);
      expect(Date.now() - start).toBeLessThan(61_000);
      vi.advanceTimersToNextTimer();
      expect(ran).toHaveLength(4);
      expect(Date.now() - start).toBeGreaterThanOrEqual(3_600_000);
      expect(vi.getTimerCount()).toBe(0);
      deadlines.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
