import type { Priority } from '../../__generated__/graphql';
import { Field } from './Field';

/** A colleague: who to send something to, who sees a patient. */
export function StaffSelect({
  label,
  staff,
  value,
  onChange,
  wide = true,
  required = true,
}: {
  label: string;
  staff: readonly { id: string; name: string }[];
  value: string;
  onChange(id: string): void;
  wide?: boolean;
  required?: boolean;
}) {
  return (
    <Field label={label} wide={wide}>
      <select value={value} onChange={(e) => onChange(e.target.value)} required={required}>
        {staff.map((s) => (
          <option key={s.id} value={s.id}>
            {s.name}
          </option>
        ))}
      </select>
    </Field>
  );
}

/** How urgent a task or an alert is: urgent ones stay on screen until dismissed. */
export function PrioritySelect({ value, onChange }: { value: Priority; onChange(priority: Priority): void }) {
  return (
    <Field label="Priority">
      <select value={value} onChange={(e) => onChange(e.target.value as Priority)}>
        <option value="LOW">Low</option>
        <option value="NORMAL">Normal</option>
        <option value="HIGH">High</option>
        <option value="URGENT">Urgent</option>
      </select>
    </Field>
  );
}
