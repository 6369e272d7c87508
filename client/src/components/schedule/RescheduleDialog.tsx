import { useState } from 'react';
import type { AppointmentCard_AppointmentFragment } from '../../__generated__/graphql';
import { localDate, localTimeInput, zonedInstant } from '../../lib/time';
import { useRescheduleAppointmentMutation } from '../../mutations/useRescheduleAppointmentMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { Dialog } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { LENGTHS, TimeSlotFields } from './TimeSlotFields';
import { Field } from '../ui/Field';

interface RescheduleDialogProps {
  appointment: AppointmentCard_AppointmentFragment;
  providers: readonly { id: string; name: string }[];
  onClose(): void;
}

export function RescheduleDialog({ appointment, providers, onClose }: RescheduleDialogProps) {
  const { tenant } = useCurrentUser();
  const [reschedule, { loading }] = useRescheduleAppointmentMutation();
  const currentLength = Math.round((Date.parse(appointment.endsAt) - Date.parse(appointment.startsAt)) / 60_000);
  const [day, setDay] = useState(localDate(appointment.startsAt, tenant.timeZone));
  const [time, setTime] = useState(localTimeInput(appointment.startsAt, tenant.timeZone));
  const [length, setLength] = useState(currentLength);
  const [providerId, setProviderId] = useState(appointment.provider.id);
  const [room, setRoom] = useState(appointment.room ?? '');
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    const provider = providers.find((p) => p.id === providerId) ?? appointment.provider;
    const startsAt = zonedInstant(day, time, tenant.timeZone);
    const endsAt = new Date(startsAt.getTime() + length * 60_000);
    setError(null);
    try {
      await reschedule(appointment, { startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), provider, room });
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const lengths = LENGTHS.includes(currentLength) ? LENGTHS : [...LENGTHS, currentLength].sort((a, b) => a - b);
  return (
    <Dialog
      title={`Reschedule ${appointment.patient.displayName}`}
      onClose={onClose}
      onSubmit={submit}
      actions={
        <>
          <button type="button" className="button button-ghost" onClick={onClose}>
            Keep as is
          </button>
          <button type="submit" className="button button-primary" disabled={loading}>
            {loading ? 'Saving…' : 'Save new time'}
          </button>
        </>
      }
    >
      <TimeSlotFields
        day={day}
        time={time}
        length={length}
        lengths={lengths}
        onDay={setDay}
        onTime={setTime}
        onLength={setLength}
      />
      <div className="field-row">
        <Field label="Provider" wide>
          <select value={providerId} onChange={(e) => setProviderId(e.target.value)}>
            {providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Room">
          <input value={room} maxLength={40} onChange={(e) => setRoom(e.target.value)} />
        </Field>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}
