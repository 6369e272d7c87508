import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { StaffPickerDocument } from '../../__generated__/graphql';
import { useCreateThreadMutation } from '../../mutations/useCreateThreadMutation';
import { useCurrentUser } from '../../session/SessionContext';
import { Dialog, DialogActions } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';
import { FormError } from '../ui/FormError';

interface NewThreadDialogProps {
  onClose(): void;
  onCreated(threadId: string): void;
  patient?: { id: string; displayName: string };
}

/** Start a conversation with colleagues, optionally about a patient. */
export function NewThreadDialog({ onClose, onCreated, patient }: NewThreadDialogProps) {
  const me = useCurrentUser();
  const { data } = useQuery(StaffPickerDocument);
  const staff = (data?.staff ?? []).filter((s) => s.id !== me.id);
  const [create, { loading }] = useCreateThreadMutation();
  const [subject, setSubject] = useState(patient ? `About ${patient.displayName}` : '');
  const [participants, setParticipants] = useState<string[]>([]);
  const [body, setBody] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    if (!participants.length) return setError('Choose at least one colleague.');
    setError(null);
    try {
      const result = await create({
        subject,
        participantIds: participants,
        patientId: patient?.id,
        body: body.trim() || null,
      });
      if (result.data) onCreated(result.data.createThread.id);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Dialog
      title="New conversation"
      onClose={onClose}
      onSubmit={submit}
      actions={<DialogActions submit="Start conversation" disabled={loading} onCancel={onClose} />}
    >
      <Field label="Subject">
        <input value={subject} maxLength={200} onChange={(e) => setSubject(e.target.value)} required />
      </Field>
      <fieldset className="field">
        <legend>With</legend>
        <div className="checkbox-grid">
          {staff.map((s) => (
            <label key={s.id} className="checkbox">
              <input
                type="checkbox"
                checked={participants.includes(s.id)}
                onChange={(e) =>
                  setParticipants((list) => (e.target.checked ? [...list, s.id] : list.filter((id) => id !== s.id)))
                }
              />
              {s.name}
            </label>
          ))}
        </div>
      </fieldset>
      <Field label="First message">
        <textarea value={body} rows={3} maxLength={5000} onChange={(e) => setBody(e.target.value)} />
      </Field>
      <FormError error={error} />
    </Dialog>
  );
}
