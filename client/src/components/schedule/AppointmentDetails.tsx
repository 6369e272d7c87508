import { useState } from 'react';
import { Link } from 'react-router';
import type { AppointmentCard_AppointmentFragment } from '../../__generated__/graphql';
import { formatTime } from '../../lib/time';
import { useCheckInAppointmentMutation } from '../../mutations/useCheckInAppointmentMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { errorMessage } from '../ui/errors';
import { StatusPill } from './AppointmentCard';

const CAN_CHECK_IN = ['ADMIN', 'FRONT_DESK', 'NURSE'];

interface AppointmentDetailsProps {
  appointment: AppointmentCard_AppointmentFragment;
  onReschedule(): void;
  onCancel(): void;
  onClose(): void;
}

/** The selected appointment and what can be done with it. */
export function AppointmentDetails({ appointment, onReschedule, onCancel, onClose }: AppointmentDetailsProps) {
  const me = useCurrentUser();
  const tz = me.tenant.timeZone;
  const [checkIn, { loading }] = useCheckInAppointmentMutation();
  const [error, setError] = useState<string | null>(null);
  const open =
    appointment.status !== 'CANCELLED' && appointment.status !== 'COMPLETED' && appointment.status !== 'NO_SHOW';
  const pending = appointment.id.startsWith('optimistic-');

  return (
    <section className="panel details" aria-labelledby="details-heading">
      <header className="panel-header">
        <h2 id="details-heading">{appointment.patient.displayName}</h2>
        <button type="button" className="icon-button" aria-label="Close details" onClick={onClose}>
          ×
        </button>
      </header>
      <dl className="details-list">
        <dt>When</dt>
        <dd>
          {formatTime(appointment.startsAt, tz)} – {formatTime(appointment.endsAt, tz)}
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
          <Link to={`/patients/${appointment.patient.id}`}>{appointment.patient.mrn}</Link>
        </dd>
      </dl>
      {open && !pending && (
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
          <button type="button" className="button" onClick={onReschedule}>
            Reschedule
          </button>
          <button type="button" className="button button-danger-ghost" onClick={onCancel}>
            Cancel appointment
          </button>
        </div>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
