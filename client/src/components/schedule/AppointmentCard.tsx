import type { AppointmentCard_AppointmentFragment, AppointmentStatus } from '../../__generated__/graphql';
import { formatTime } from '../../lib/time';

export const STATUS_LABEL: Record<AppointmentStatus, string> = {
  SCHEDULED: 'Scheduled',
  CHECKED_IN: 'Checked in',
  IN_PROGRESS: 'In progress',
  COMPLETED: 'Completed',
  CANCELLED: 'Cancelled',
  NO_SHOW: 'No-show',
};

export function StatusPill({ status }: { status: AppointmentStatus }) {
  return <span className={`status-pill status-${status.toLowerCase().replace('_', '-')}`}>{STATUS_LABEL[status]}</span>;
}

interface AppointmentCardProps {
  appointment: AppointmentCard_AppointmentFragment;
  timeZone: string;
  selected: boolean;
  /** Just changed by someone (live): drawn with a brief highlight. */
  highlighted: boolean;
  style: React.CSSProperties;
  onSelect(): void;
}

/**
 * One appointment on the day grid; its fragment (AppointmentCard.graphql) is what every live event carries too. Its
 * accessible name is its visible text (time, room, patient, reason, status); the provider is the column's.
 */
export function AppointmentCard({
  appointment,
  timeZone,
  selected,
  highlighted,
  style,
  onSelect,
}: AppointmentCardProps) {
  const time = `${formatTime(appointment.startsAt, timeZone).replace(/ [AP]M$/, '')} – ${formatTime(appointment.endsAt, timeZone)}`;
  const pending = appointment.id.startsWith('optimistic-');
  return (
    <button
      type="button"
      className={[
        'appt-card',
        `status-${appointment.status.toLowerCase().replace('_', '-')}`,
        selected ? 'is-selected' : '',
        highlighted ? 'is-highlighted' : '',
        pending ? 'is-pending' : '',
      ].join(' ')}
      style={style}
      aria-pressed={selected}
      onClick={onSelect}
      data-appointment-id={appointment.id}
    >
      {/* The spaces keep the words of the accessible name apart, however the spans are laid out. */}
      <span className="appt-time">
        {time}
        {appointment.room ? ` · ${appointment.room}` : ''}
      </span>{' '}
      <span className="appt-patient">{appointment.patient.displayName}</span>{' '}
      <span className="appt-reason">
        {appointment.reason ?? 'Visit'}
        {appointment.status !== 'SCHEDULED' && (
          <>
            {' '}
            <StatusPill status={appointment.status} />
          </>
        )}
      </span>
    </button>
  );
}
