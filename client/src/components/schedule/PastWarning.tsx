import { useState } from 'react';

/**
 * Booking in the past is sometimes right (recording a walk-in afterwards) and usually a slip (the wrong day): the
 * first submit of a past time warns, the second goes ahead. Changing the time (`slot`) asks again.
 */
export function usePastCheck(slot: string) {
  const [warnedFor, setWarnedFor] = useState<string | null>(null);
  const warned = warnedFor === slot;
  return {
    warned,
    /** True when `startsAt` may be booked now: it is not in the past, or the warning was already shown for it. */
    confirm(startsAt: Date): boolean {
      if (startsAt.getTime() >= Date.now() || warned) return true;
      setWarnedFor(slot);
      return false;
    },
  };
}

export function PastWarning({ warned, what }: { warned: boolean; what: string }) {
  if (!warned) return null;
  return (
    <p className="form-warning" role="alert">
      {what}. Check the date and time; to record it anyway, save again.
    </p>
  );
}
