import type { Viewer } from '../../hooks/usePatientViewing';

/** "Dr. Maya Lee is also viewing this chart" — so two people do not edit the same chart unknowingly. */
export function viewersLabel(others: readonly Viewer[]): string | null {
  if (others.length === 0) return null;
  if (others.length === 1) return `${others[0].name} is also viewing this chart`;
  if (others.length === 2) return `${others[0].name} and ${others[1].name} are also viewing this chart`;
  return `${others[0].name} and ${others.length - 1} others are also viewing this chart`;
}

export function ViewersBanner({ others }: { others: readonly Viewer[] }) {
  const label = viewersLabel(others);
  return (
    <div className="viewers-slot" aria-live="polite">
      {label && (
        <p className="viewers-banner" data-testid="viewers-banner">
          <span className="viewers-eye" aria-hidden="true" />
          {label}
        </p>
      )}
    </div>
  );
}
