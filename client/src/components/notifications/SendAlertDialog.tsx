import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { SendAlertDocument, StaffPickerDocument, type Priority } from '../../__generated__/graphql';
import { useCurrentUser } from '../../session/SessionContext';
import { Dialog, DialogActions } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';
import { FormError } from '../ui/FormError';
import { PrioritySelect, StaffSelect } from '../ui/selects';

/** Who may send alerts and lab-result notifications (the server's rule: providers, nurses, admins). */
export const CAN_SEND_ALERTS = ['ADMIN', 'PROVIDER', 'NURSE'];

interface SendAlertDialogProps {
  /** The patient it concerns, when sent from a chart. */
  patient?: { id: string; displayName: string };
  onClose(): void;
  onSent(): void;
}

/** An alert or a lab result for a colleague: a short headline (never a diagnosis), live on their screen. */
export function SendAlertDialog({ patient, onClose, onSent }: SendAlertDialogProps) {
  const me = useCurrentUser();
  const staff = (useQuery(StaffPickerDocument).data?.staff ?? []).filter((s) => s.id !== me.id);
  const [send, { loading }] = useMutation(SendAlertDocument);
  const [userId, setUserId] = useState('');
  const [kind, setKind] = useState<'ALERT' | 'LAB_RESULT'>('ALERT');
  const [priority, setPriority] = useState<Priority>('NORMAL');
  const [title, setTitle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const recipient = userId || staff[0]?.id || '';

  const submit = async () => {
    if (!recipient) return setError('Choose who should see it.');
    setError(null);
    try {
      await send({ variables: { input: { userId: recipient, kind, priority, title, patientId: patient?.id } } });
      onSent();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Dialog
      title="Send an alert"
      description={
        patient
          ? `About ${patient.displayName}. A short headline only: no diagnosis.`
          : 'A short headline only: no diagnosis.'
      }
      onClose={onClose}
      onSubmit={submit}
      actions={<DialogActions submit="Send" disabled={loading || !staff.length} onCancel={onClose} />}
    >
      <div className="field-row">
        <StaffSelect label="To" staff={staff} value={recipient} onChange={setUserId} />
        <Field label="Kind">
          <select value={kind} onChange={(e) => setKind(e.target.value as 'ALERT' | 'LAB_RESULT')}>
            <option value="ALERT">Alert</option>
            <option value="LAB_RESULT">Lab result</option>
          </select>
        </Field>
        <PrioritySelect value={priority} onChange={setPriority} />
      </div>
      <Field label="Headline">
        <input
          value={title}
          maxLength={200}
          placeholder="Pathology report ready to review"
          onChange={(e) => setTitle(e.target.value)}
          required
        />
      </Field>
      <FormError error={error} />
    </Dialog>
  );
}
