import { useState } from 'react';
import type { AppointmentCard_AppointmentFragment } from '../../__generated__/graphql';
import { formatTime } from '../../lib/time';
import { useCancelAppointmentMutation } from '../../mutations/useCancelAppointmentMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { Dialog } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';
import { FormError } from '../ui/FormError';

const COMMON_REASONS = ['Patient request', 'Patient is unwell', 'Provider unavailable', 'Rescheduled by phone'];

export function CancelAppointmentDialog({
  appointment,
  onClose,
}: {
  appointment: AppointmentCard_AppointmentFragment;
  onClose(): void;
}) {
  const { tenant } = useCurrentUser();
  const [cancel, { loading }] = useCancelAppointmentMutation();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    if (!reason.trim()) return setError('Say why the appointment is cancelled.');
    setError(null);
    try {
      await cancel(appointment, reason.trim());
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Dialog
      title="Cancel appointment"
      description={`${appointment.patient.displayName} with ${appointment.provider.name} at ${formatTime(appointment.startsAt, tenant.timeZone)}. This cannot be undone.`}
      onClose={onClose}
      onSubmit={submit}
      actions={
        <>
          <button type="button" className="button button-ghost" onClick={onClose}>
            Keep appointment
          </button>
          <button type="submit" className="button button-danger" disabled={loading}>
            {loading ? 'Cancelling…' : 'Cancel appointment'}
          </button>
        </>
      }
    >
      <Field label="Reason for cancelling">
        <textarea value={reason} maxLength={500} rows={3} onChange={(e) => setReason(e.target.value)} required />
      </Field>
      <div className="chips" aria-label="Common reasons">
        {COMMON_REASONS.map((r) => (
          <button key={r} type="button" className="chip" onClick={() => setReason(r)}>
            {r}
          </button>
        ))}
      </div>
      <FormError error={error} />
    </Dialog>
  );
}
