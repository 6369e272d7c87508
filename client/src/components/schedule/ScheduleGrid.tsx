import type { AppointmentCard_AppointmentFragment } from '../../__generated__/graphql';
import { localDate, localMinutes } from '../../lib/time';
import { Avatar } from '../ui/Avatar';
import { AppointmentCard } from './AppointmentCard';
import { layoutLanes } from './layout';

const PX_PER_MINUTE = 2;

interface ScheduleGridProps {
  date: string;
  timeZone: string;
  providers: readonly { id: string; name: string }[];
  appointments: readonly AppointmentCard_AppointmentFragment[];
  selectedId: string | null;
  highlighted: ReadonlySet<string>;
  onSelect(id: string): void;
}

/** The day, one column per provider, appointments placed by time in the clinic's time zone. */
export function ScheduleGrid({
  date,
  timeZone,
  providers,
  appointments,
  selectedId,
  highlighted,
  onSelect,
}: ScheduleGridProps) {
  const minutes = appointments.map((a) => ({
    a,
    start: localDate(a.startsAt, timeZone) === date ? localMinutes(a.startsAt, timeZone) : 0,
    end: localDate(a.endsAt, timeZone) === date ? localMinutes(a.endsAt, timeZone) : 24 * 60,
  }));
  const firstHour = Math.min(8, ...minutes.map((m) => Math.floor(m.start / 60)));
  const lastHour = Math.max(18, ...minutes.map((m) => Math.ceil(m.end / 60)));
  const hours = Array.from({ length: lastHour - firstHour }, (_, i) => firstHour + i);
  const height = (lastHour - firstHour) * 60 * PX_PER_MINUTE;

  // Appointments of a provider who is not (or no longer) listed still show, in a column of their own.
  const columns = [...providers];
  for (const { a } of minutes) if (!columns.some((p) => p.id === a.provider.id)) columns.push(a.provider);

  return (
    <div
      className="schedule-grid"
      style={{ gridTemplateColumns: `56px repeat(${Math.max(columns.length, 1)}, minmax(180px, 1fr))` }}
    >
      <div className="grid-corner" />
      {columns.map((p) => (
        <div key={p.id} className="grid-provider">
          <Avatar id={p.id} name={p.name} size={24} />
          <span>{p.name}</span>
          <span className="grid-provider-count">
            {minutes.filter((m) => m.a.provider.id === p.id && m.a.status !== 'CANCELLED').length}
            <span className="visually-hidden"> appointments</span>
          </span>
        </div>
      ))}
      <div className="grid-hours" style={{ height }} aria-hidden="true">
        {hours.map((h) => (
          <span key={h} style={{ top: (h - firstHour) * 60 * PX_PER_MINUTE }}>
            {h === 12 ? '12 PM' : h > 12 ? `${h - 12} PM` : `${h} AM`}
          </span>
        ))}
      </div>
      {columns.map((p) => {
        const mine = minutes.filter((m) => m.a.provider.id === p.id);
        const lanes = layoutLanes(
          mine.map((m) => ({ id: m.a.id, start: m.start, end: Math.max(m.end, m.start + 15) })),
        );
        return (
          <div
            key={p.id}
            className="grid-column"
            style={{ height }}
            role="list"
            aria-label={`${p.name}'s appointments`}
          >
            {hours.map((h) => (
              <span key={h} className="grid-line" style={{ top: (h - firstHour) * 60 * PX_PER_MINUTE }} />
            ))}
            {mine.map(({ a, start, end }) => {
              const lane = lanes.get(a.id) ?? { lane: 0, lanes: 1 };
              return (
                <div key={a.id} role="listitem">
                  <AppointmentCard
                    appointment={a}
                    timeZone={timeZone}
                    selected={a.id === selectedId}
                    highlighted={highlighted.has(a.id)}
                    onSelect={() => onSelect(a.id)}
                    style={{
                      top: (start - firstHour * 60) * PX_PER_MINUTE,
                      height: Math.max(end - start, 20) * PX_PER_MINUTE - 3,
                      left: `calc(${(lane.lane / lane.lanes) * 100}% + 4px)`,
                      width: `calc(${100 / lane.lanes}% - 8px)`,
                    }}
                  />
                </div>
              );
            })}
          </div>
        );
      })}
    </div>
  );
}
