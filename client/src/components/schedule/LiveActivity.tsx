import type { Activity } from '../../hooks/useLiveActivity';
import { formatDate, formatRelative, formatTime, localDate } from '../../lib/time';

const KIND_LABEL = { CREATED: 'Booked', UPDATED: 'Changed', CANCELLED: 'Cancelled', CHECKED_IN: 'Checked in' } as const;
const STATUS_CHANGE: Partial<Record<Activity['status'], string>> = {
  IN_PROGRESS: 'Started',
  COMPLETED: 'Completed',
  NO_SHOW: 'No-show',
};

function describe(item: Activity, timeZone: string, date: string): { label: string; text: string } {
  const time = formatTime(item.startsAt, timeZone);
  const day = localDate(item.startsAt, timeZone);
  const when = `${time}${day !== date ? ` on ${formatDate(day)}` : ''}`;
  if (item.kind === 'CHECKED_IN')
    return { label: KIND_LABEL.CHECKED_IN, text: `${item.patientName} arrived for ${time}` };
  const label = (item.kind === 'UPDATED' && STATUS_CHANGE[item.status]) || KIND_LABEL[item.kind];
  return { label, text: `${item.patientName} with ${item.providerName}, ${when}` };
}

/** What changed on the schedule since sign-in, newest first (from the live stream, whatever page was open). */
export function LiveActivity({
  items,
  timeZone,
  date,
  onSelect,
}: {
  items: readonly Activity[];
  timeZone: string;
  /** The day on screen: changes on other days say which day. */
  date: string;
  onSelect(item: Activity): void;
}) {
  return (
    <section className="panel activity" aria-labelledby="activity-heading">
      <header className="panel-header">
        <h2 id="activity-heading">Live activity</h2>
      </header>
      {items.length === 0 ? (
        <p className="panel-muted">
          Bookings, changes, cancellations and check-ins appear here as they happen, whoever makes them.
        </p>
      ) : (
        <ol className="activity-list" aria-live="polite">
          {items.map((item) => {
            const { label, text } = describe(item, timeZone, date);
            return (
              <li key={item.key} className={`activity-item activity-${item.kind.toLowerCase().replace('_', '-')}`}>
                <span className="activity-kind">{label}</span>
                <button type="button" className="link-button" onClick={() => onSelect(item)}>
                  {text}
                </button>
                <time dateTime={item.at}>{formatRelative(item.at, timeZone)}</time>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
