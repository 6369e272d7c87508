import { useState } from 'react';
import { zonedInstant } from '../../lib/time';
import { useCreateAppointmentMutation } from '../../mutations/useCreateAppointmentMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { Dialog, DialogActions } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { PastWarning, usePastCheck } from './PastWarning';
import { PatientPicker, type PickedPatient } from './PatientPicker';
import { TimeSlotFields } from './TimeSlotFields';
import { Field } from '../ui/Field';
import { FormError } from '../ui/FormError';
import { StaffSelect } from '../ui/selects';

interface NewAppointmentDialogProps {
  date: string;
  providers: readonly { id: string; name: string }[];
  /** The provider chosen at first (the schedule's filter); the first listed when left out. */
  providerId?: string;
  onClose(): void;
  onBooked(id: string): void;
}

export function NewAppointmentDialog({
  date,
  providers,
  providerId: initialProvider,
  onClose,
  onBooked,
}: NewAppointmentDialogProps) {
  const { tenant } = useCurrentUser();
  const [create, { loading }] = useCreateAppointmentMutation();
  const [patient, setPatient] = useState<PickedPatient | null>(null);
  const [providerId, setProviderId] = useState(initialProvider ?? providers[0]?.id ?? '');
  const [day, setDay] = useState(date);
  const [time, setTime] = useState('15:00');
  const [length, setLength] = useState(30);
  const [room, setRoom] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const past = usePastCheck(`${day} ${time}`);

  const submit = async () => {
    const provider = providers.find((p) => p.id === providerId);
    if (!patient || !provider) return setError('Choose a patient and a provider.');
    setError(null);
    const startsAt = zonedInstant(day, time, tenant.timeZone);
    if (!past.confirm(startsAt)) return;
    const endsAt = new Date(startsAt.getTime() + length * 60_000);
    // The card shows on the grid at once (optimistic); the dialog stays until the server answers, to show a conflict
    // here.
    try {
      const result = await create(
        {
          providerId,
          patientId: patient.id,
          startsAt: startsAt.toISOString(),
          endsAt: endsAt.toISOString(),
          room: room || null,
          reason: reason || null,
        },
        { provider, patient },
      );
      if (result.data) onBooked(result.data.createAppointment.id);
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Dialog
      title="New appointment"
      description={`Times are in the clinic's time zone (${tenant.timeZone.replace('_', ' ')}).`}
      onClose={onClose}
      onSubmit={submit}
      actions={
        <DialogActions
          submit={loading ? 'Booking…' : past.warned ? 'Book in the past' : 'Book appointment'}
          disabled={loading}
          onCancel={onClose}
        />
      }
    >
      <PatientPicker value={patient} onChange={setPatient} />
      <StaffSelect label="Provider" staff={providers} value={providerId} onChange={setProviderId} wide={false} />
      <TimeSlotFields day={day} time={time} length={length} onDay={setDay} onTime={setTime} onLength={setLength} />
      <div className="field-row">
        <Field label="Room">
          <input value={room} maxLength={40} placeholder="Room 2" onChange={(e) => setRoom(e.target.value)} />
        </Field>
        <Field label="Reason" wide>
          <input value={reason} maxLength={500} placeholder="Mole check" onChange={(e) => setReason(e.target.value)} />
        </Field>
      </div>
      <PastWarning warned={past.warned} what="This time is in the past" />
      <FormError error={error} />
    </Dialog>
  );
}
