import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import type { AppointmentCard_AppointmentFragment, AppointmentStatus } from '../../__generated__/graphql';
import { formatDate, formatTime, localDate } from '../../lib/time';
import { useCheckInAppointmentMutation } from '../../mutations/useCheckInAppointmentMutation';
import { useSetAppointmentStatusMutation } from '../../mutations/useEditAppointmentMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { errorMessage } from '../ui/errors';
import { StatusPill } from './AppointmentCard';
import { FormError } from '../ui/FormError';

const CAN_CHECK_IN = ['ADMIN', 'FRONT_DESK', 'NURSE'];

interface AppointmentDetailsProps {
  appointment: AppointmentCard_AppointmentFragment;
  onEdit(): void;
  onCancel(): void;
  onClose(): void;
}

/** The selected appointment and what can be done with it. */
export function AppointmentDetails({ appointment, onEdit, onCancel, onClose }: AppointmentDetailsProps) {
  const me = useCurrentUser();
  const tz = me.tenant.timeZone;
  const [checkIn, { loading }] = useCheckInAppointmentMutation();
  const [setStatus, { loading: changing }] = useSetAppointmentStatusMutation();
  const [error, setError] = useState<string | null>(null);
  const open =
    appointment.status !== 'CANCELLED' && appointment.status !== 'COMPLETED' && appointment.status !== 'NO_SHOW';
  const pending = appointment.id.startsWith('optimistic-');
  // Brought into view when another appointment is chosen (on a phone the details sit above the grid).
  const section = useRef<HTMLElement>(null);
  useEffect(() => {
    section.current?.scrollIntoView?.({ block: 'nearest' });
  }, [appointment.id]);
  const move = (status: AppointmentStatus) => {
    setError(null);
    setStatus(appointment, status).catch((err: unknown) => setError(errorMessage(err)));
  };

  return (
    <section ref={section} className="panel details" aria-labelledby="details-heading">
      <header className="panel-header">
        <h2 id="details-heading">{appointment.patient.displayName}</h2>
        <button type="button" className="icon-button" aria-label="Close details" onClick={onClose}>
          ×
        </button>
      </header>
      <dl className="details-list">
        <dt>When</dt>
        <dd>
          {formatDate(localDate(appointment.startsAt, tz))}, {formatTime(appointment.startsAt, tz)} –{' '}
          {formatTime(appointment.endsAt, tz)}
        </dd>
        <dt>Provider</dt>
        <dd>{appointment.provider.name}</dd>
        <dt>Room</dt>
        <dd>{appointment.room ?? '—'}</dd>
        <dt>Reason</dt>
        <dd>{appointment.reason ?? '—'}</dd>
        <dt>Status</dt>
        <dd>
          <StatusPill status={appointment.status} />
        </dd>
        {appointment.checkedInAt && (
          <>
            <dt>Arrived</dt>
            <dd>{formatTime(appointment.checkedInAt, tz)}</dd>
          </>
        )}
        {appointment.cancellationReason && (
          <>
            <dt>Why cancelled</dt>
            <dd>{appointment.cancellationReason}</dd>
          </>
        )}
        <dt>MRN</dt>
        <dd>
          <Link to={`/patients/${appointment.patient.id}`}>
            {appointment.patient.mrn}
            <span className="visually-hidden"> (open the chart)</span>
          </Link>
        </dd>
      </dl>
      {!pending && (open || appointment.status === 'NO_SHOW') && (
        <div className="details-actions">
          {appointment.status === 'SCHEDULED' && CAN_CHECK_IN.includes(me.role) && (
            <button
              type="button"
              className="button button-primary"
              disabled={loading}
              onClick={() => {
                setError(null);
                checkIn(appointment).catch((err: unknown) => setError(errorMessage(err)));
              }}
            >
              Check in
            </button>
          )}
          {appointment.status === 'CHECKED_IN' && (
            <button
              type="button"
              className="button button-primary"
              disabled={changing}
              onClick={() => move('IN_PROGRESS')}
            >
              Start visit
            </button>
          )}
          {appointment.status === 'IN_PROGRESS' && (
            <button
              type="button"
              className="button button-primary"
              disabled={changing}
              onClick={() => move('COMPLETED')}
            >
              Complete visit
            </button>
          )}
          {appointment.status === 'SCHEDULED' && (
            <button type="button" className="button" disabled={changing} onClick={() => move('NO_SHOW')}>
              No-show
            </button>
          )}
          {appointment.status === 'NO_SHOW' && (
            <button type="button" className="button" disabled={changing} onClick={() => move('SCHEDULED')}>
              Undo no-show
            </button>
          )}
          {open && (
            <button type="button" className="button" onClick={onEdit}>
              Edit
            </button>
          )}
          {open && appointment.status !== 'IN_PROGRESS' && (
            <button type="button" className="button button-danger-ghost" onClick={onCancel}>
              Cancel appointment
            </button>
          )}
        </div>
      )}
      <FormError error={error} />
    </section>
  );
}
