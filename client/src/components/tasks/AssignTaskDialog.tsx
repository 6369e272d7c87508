import { useState } from 'react';
import type { Priority } from '../../__generated__/graphql';
import { useAssignTaskMutation } from '../../mutations/useAssignTaskMutation';
import { Dialog } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';

interface AssignTaskDialogProps {
  staff: readonly { id: string; name: string }[];
  patient?: { id: string; displayName: string };
  onClose(): void;
  onAssigned(): void;
}

export function AssignTaskDialog({ staff, patient, onClose, onAssigned }: AssignTaskDialogProps) {
  const [assign, { loading }] = useAssignTaskMutation();
  const [title, setTitle] = useState('');
  const [details, setDetails] = useState('');
  const [assigneeId, setAssigneeId] = useState(staff[0]?.id ?? '');
  const [priority, setPriority] = useState<Priority>('NORMAL');
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    setError(null);
    try {
      await assign({ title, details: details || null, assigneeId, priority, patientId: patient?.id });
      onAssigned();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Dialog
      title="Assign a task"
      description={patient ? `About ${patient.displayName}.` : undefined}
      onClose={onClose}
      onSubmit={submit}
      actions={
        <>
          <button type="button" className="button button-ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={loading}>
            Assign task
          </button>
        </>
      }
    >
      <Field label="Task">
        <input
          value={title}
          maxLength={200}
          placeholder="Call patient back with results"
          onChange={(e) => setTitle(e.target.value)}
          required
        />
      </Field>
      <div className="field-row">
        <Field label="Assign to" wide>
          <select value={assigneeId} onChange={(e) => setAssigneeId(e.target.value)} required>
            {staff.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Priority">
          <select value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
            <option value="LOW">Low</option>
            <option value="NORMAL">Normal</option>
            <option value="HIGH">High</option>
            <option value="URGENT">Urgent</option>
          </select>
        </Field>
      </div>
      <Field label="Details">
        <textarea value={details} rows={3} maxLength={2000} onChange={(e) => setDetails(e.target.value)} />
      </Field>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}
