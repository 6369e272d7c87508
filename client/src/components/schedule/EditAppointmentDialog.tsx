import { useState } from 'react';
import type { AppointmentCard_AppointmentFragment } from '../../__generated__/graphql';
import { formatDate, localDate, localTimeInput, zonedInstant } from '../../lib/time';
import { useEditAppointmentMutation } from '../../mutations/useEditAppointmentMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { Dialog, DialogActions } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';
import { PastWarning, usePastCheck } from './PastWarning';
import { PatientPicker, type PickedPatient } from './PatientPicker';
import { LENGTHS, TimeSlotFields } from './TimeSlotFields';
import { FormError } from '../ui/FormError';
import { StaffSelect } from '../ui/selects';

interface EditAppointmentDialogProps {
  appointment: AppointmentCard_AppointmentFragment;
  providers: readonly { id: string; name: string }[];
  onClose(): void;
}

/** Reschedule, or correct who, with whom, where and why. */
export function EditAppointmentDialog({ appointment, providers, onClose }: EditAppointmentDialogProps) {
  const { tenant } = useCurrentUser();
  const tz = tenant.timeZone;
  const [edit, { loading }] = useEditAppointmentMutation();
  const currentLength = Math.round((Date.parse(appointment.endsAt) - Date.parse(appointment.startsAt)) / 60_000);
  const [day, setDay] = useState(localDate(appointment.startsAt, tz));
  const [time, setTime] = useState(localTimeInput(appointment.startsAt, tz));
  const [length, setLength] = useState(currentLength);
  const [providerId, setProviderId] = useState(appointment.provider.id);
  const [patient, setPatient] = useState<PickedPatient | null>(appointment.patient);
  const [room, setRoom] = useState(appointment.room ?? '');
  const [reason, setReason] = useState(appointment.reason ?? '');
  const [error, setError] = useState<string | null>(null);
  const startsAt = zonedInstant(day, time, tz);
  const moved = startsAt.getTime() !== Date.parse(appointment.startsAt);
  const past = usePastCheck(`${day} ${time}`);

  const submit = async () => {
    const provider = providers.find((p) => p.id === providerId) ?? appointment.provider;
    if (!patient) return setError('Choose a patient.');
    // Moving a visit into the past is allowed (recording what happened), but not by accident.
    if (moved && !past.confirm(startsAt)) return;
    const endsAt = new Date(startsAt.getTime() + length * 60_000);
    setError(null);
    try {
      await edit(appointment, {
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
        provider,
        patient,
        room,
        reason,
      });
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const lengths = LENGTHS.includes(currentLength) ? LENGTHS : [...LENGTHS, currentLength].sort((a, b) => a - b);
  return (
    <Dialog
      title={`Edit appointment: ${appointment.patient.displayName}`}
      description={`${formatDate(localDate(appointment.startsAt, tz))}. Times are in the clinic's time zone (${tz.replace('_', ' ')}).`}
      onClose={onClose}
      onSubmit={submit}
      actions={
        <DialogActions
          submit={loading ? 'Saving…' : past.warned ? 'Save, in the past' : 'Save changes'}
          cancel="Keep as is"
          disabled={loading}
          onCancel={onClose}
        />
      }
    >
      <PatientPicker value={patient} onChange={setPatient} />
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
        <StaffSelect label="Provider" staff={providers} value={providerId} onChange={setProviderId} required={false} />
        <Field label="Room">
          <input value={room} maxLength={40} onChange={(e) => setRoom(e.target.value)} />
        </Field>
      </div>
      <Field label="Reason">
        <input value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} />
      </Field>
      <PastWarning warned={past.warned} what="This visit would start in the past" />
      <FormError error={error} />
    </Dialog>
  );
}
