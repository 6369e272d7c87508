import { formatRelative } from '../../lib/time';

export interface Activity {
  key: string;
  appointmentId: string;
  text: string;
  kind: 'CREATED' | 'UPDATED' | 'CANCELLED' | 'CHECKED_IN';
  at: string;
}

const KIND_LABEL = { CREATED: 'Booked', UPDATED: 'Changed', CANCELLED: 'Cancelled', CHECKED_IN: 'Checked in' } as const;

/** What changed on the schedule since the page opened, newest first (from the live stream). */
export function LiveActivity({
  items,
  timeZone,
  onSelect,
}: {
  items: readonly Activity[];
  timeZone: string;
  onSelect(id: string): void;
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
          {items.map((item) => (
            <li key={item.key} className={`activity-item activity-${item.kind.toLowerCase().replace('_', '-')}`}>
              <span className="activity-kind">{KIND_LABEL[item.kind]}</span>
              <button type="button" className="link-button" onClick={() => onSelect(item.appointmentId)}>
                {item.text}
              </button>
              <time dateTime={item.at}>{formatRelative(item.at, timeZone)}</time>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
