import { useState } from 'react';
import type { Priority } from '../../__generated__/graphql';
import { useAssignTaskMutation } from '../../mutations/useAssignTaskMutation';
import { Dialog, DialogActions } from '../ui/Dialog';
import { errorMessage } from '../ui/errors';
import { Field } from '../ui/Field';
import { FormError } from '../ui/FormError';
import { PrioritySelect, StaffSelect } from '../ui/selects';

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
      actions={<DialogActions submit="Assign task" disabled={loading} onCancel={onClose} />}
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
        <StaffSelect label="Assign to" staff={staff} value={assigneeId} onChange={setAssigneeId} />
        <PrioritySelect value={priority} onChange={setPriority} />
      </div>
      <Field label="Details">
        <textarea value={details} rows={3} maxLength={2000} onChange={(e) => setDetails(e.target.value)} />
      </Field>
      <FormError error={error} />
    </Dialog>
  );
}
