const PALETTE = ['#0f766e', '#7c3aed', '#b45309', '#be123c', '#1d4ed8', '#4d7c0f', '#0e7490', '#a21caf'];

function hash(text: string): number {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) | 0;
  return Math.abs(h);
}

export function initials(name: string): string {
  const words = name
    .replace(/^(Dr\.?|Mr\.?|Ms\.?|Mrs\.?)\s+/i, '')
    .split(/\s+/)
    .filter(Boolean);
  return ((words[0]?.[0] ?? '') + (words.length > 1 ? words[words.length - 1][0] : '')).toUpperCase();
}

/** Initials on a colour derived from the id: the same person always looks the same. */
export function Avatar({ id, name, size = 32, status }: { id: string; name: string; size?: number; status?: string }) {
  return (
    <span
      className="avatar"
      style={{ width: size, height: size, fontSize: size * 0.4, background: PALETTE[hash(id) % PALETTE.length] }}
      aria-hidden="true"
    >
      {initials(name)}
      {status && <span className={`presence-dot presence-${status.toLowerCase()}`} />}
    </span>
  );
}
