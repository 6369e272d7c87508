import { cloneElement, useId, type ReactElement } from 'react';

/**
 * A labelled form control. The label is tied by `for`/`id` rather than wrapped around the control, so the control's
 * accessible name is the label alone (a wrapping label would also read out a select's current option).
 */
export function Field({
  label,
  children,
  wide = false,
}: {
  label: string;
  children: ReactElement<{ id?: string }>;
  wide?: boolean;
}) {
  const id = useId();
  return (
    <div className={`field ${wide ? 'field-wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id })}
    </div>
  );
}
