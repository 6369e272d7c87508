import type { AppointmentCard_AppointmentFragment } from '../../__generated__/graphql';
import { formatTime } from '../../lib/time';
import { StatusPill } from './AppointmentCard';

interface WeekAgendaProps {
  days: readonly { date: string; label: string; appointments: readonly AppointmentCard_AppointmentFragment[] }[];
  timeZone: string;
  today: string;
  selectedId: string | null;
  highlighted: ReadonlySet<string>;
  onSelect(id: string): void;
}

/** A week as a list of days, each with its appointments in order: readable at any width, a phone's included. */
export function WeekAgenda({ days, timeZone, today, selectedId, highlighted, onSelect }: WeekAgendaProps) {
  return (
    <div className="week-agenda">
      {days.map((day) => {
        const open = day.appointments.filter((a) => a.status !== 'CANCELLED').length;
        return (
          <section key={day.date} className={`week-day ${day.date === today ? 'is-today' : ''}`}>
            <h2 className="week-day-heading">
              {day.label}
              <span className="week-day-count">
                {open} {open === 1 ? 'appointment' : 'appointments'}
              </span>
            </h2>
            {day.appointments.length === 0 ? (
              <p className="panel-muted">Nothing booked.</p>
            ) : (
              <ul className="week-list">
                {day.appointments.map((a) => (
                  <li key={a.id}>
                    <button
                      type="button"
                      className={[
                        'week-item',
                        `status-${a.status.toLowerCase().replace('_', '-')}`,
                        a.id === selectedId ? 'is-selected' : '',
                        highlighted.has(a.id) ? 'is-highlighted' : '',
                      ].join(' ')}
                      aria-pressed={a.id === selectedId}
                      onClick={() => onSelect(a.id)}
                      data-appointment-id={a.id}
                    >
                      <span className="week-time">
                        {formatTime(a.startsAt, timeZone)} – {formatTime(a.endsAt, timeZone)}
                      </span>
                      <span className="week-patient">{a.patient.displayName}</span>
                      <span className="week-meta">
                        {a.reason ?? 'Visit'} · {a.provider.name}
                        {a.room ? ` · ${a.room}` : ''}
                      </span>
                      {a.status !== 'SCHEDULED' && <StatusPill status={a.status} />}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </section>
        );
      })}
    </div>
  );
}
