import { Field } from '../ui/Field';

/** The visit lengths offered, in minutes. */
export const LENGTHS = [15, 30, 45, 60, 90];

interface TimeSlotFieldsProps {
  day: string;
  time: string;
  length: number;
  onDay(day: string): void;
  onTime(time: string): void;
  onLength(minutes: number): void;
  /** The lengths to offer; an existing appointment's own length joins the list when it is not a standard one. */
  lengths?: number[];
}

/** Date, start and length of a visit: one row, shared by booking and rescheduling. */
export function TimeSlotFields({ day, time, length, onDay, onTime, onLength, lengths = LENGTHS }: TimeSlotFieldsProps) {
  return (
    <div className="field-row">
      <Field label="Date">
        <input type="date" value={day} onChange={(e) => onDay(e.target.value)} required />
      </Field>
      <Field label="Start">
        <input type="time" value={time} step={300} onChange={(e) => onTime(e.target.value)} required />
      </Field>
      <Field label="Length">
        <select value={length} onChange={(e) => onLength(Number(e.target.value))}>
          {lengths.map((m) => (
            <option key={m} value={m}>
              {m} min
            </option>
          ))}
        </select>
      </Field>
    </div>
  );
}
