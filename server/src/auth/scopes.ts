/**
 * What an integration client may be granted, and what each grant means. The schema says which scope each field needs
 * (`@requiresScope` in schema/*.graphql); docs/integrators.md explains them to integrators. Staff hold all of them
 * (their role then decides what they may change: see roles.ts).
 */
export const Scopes = {
  'appointments:read': 'Appointments and the schedule, and the `appointmentChanged` subscription.',
  'appointments:write': 'Book, reschedule, cancel and check in appointments. Includes `appointments:read`.',
  'patients:read':
    "Patients' demographics and their appointments. Every read of one patient is audited under the client.",
  'patients:write': 'Register patients. Includes `patients:read`.',
  'messages:metadata':
    'Threads and messages of the whole clinic without their text: who wrote in which thread and when, read receipts.',
  'messages:read':
    'Message bodies and thread subjects as well (protected health information). Includes `messages:metadata`.',
  'notifications:read':
    "Every staff member's new notifications (the `notification` subscription), with their recipient.",
  'presence:read': 'Which staff members are online, and their status changes.',
  'staff:read': 'The staff directory: names, roles and email addresses.',
} as const;
export type Scope = keyof typeof Scopes;

export const ALL_SCOPES = Object.keys(Scopes) as Scope[];

/** A scope that includes others: writing implies reading what one wrote, bodies imply the metadata around them. */
const IMPLIES: Partial<Record<Scope, readonly Scope[]>> = {
  'appointments:write': ['appointments:read'],
  'patients:write': ['patients:read'],
  'messages:read': ['messages:metadata'],
};

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && Object.hasOwn(Scopes, value);
}

/**
 * Who holds scopes, as a caller (tokens.ts `Viewer`) is one: staff, or an integration with its token's scopes. Named
 * here, not imported, so that tokens.ts, which checks a token's scopes with `isScope`, and this file do not import each
 * other.
 */
export type ScopeHolder = { kind: 'user' } | { kind: 'integration'; scopes: readonly Scope[] };

/** Every scope the caller holds, implied ones included. */
export function scopesOf(viewer: ScopeHolder): ReadonlySet<Scope> {
  if (viewer.kind === 'user') return STAFF_SCOPES;
  const held = new Set<Scope>();
  for (const scope of viewer.scopes) {
    held.add(scope);
    for (const implied of IMPLIES[scope] ?? []) held.add(implied);
  }
  return held;
}

const STAFF_SCOPES: ReadonlySet<Scope> = new Set(ALL_SCOPES);

/** Parses a space- or comma-separated list of scopes; returns the unknown ones apart. */
export function parseScopes(raw: string | readonly string[]): { scopes: Scope[]; unknown: string[] } {
  const items = typeof raw === 'string' ? raw.split(/[\s,]+/) : raw;
  const scopes = new Set<Scope>();
  const unknown: string[] = [];
  for (const item of items.map((s) => s.trim()).filter(Boolean)) {
    if (isScope(item)) scopes.add(item);
    else unknown.push(item);
  }
  return { scopes: ALL_SCOPES.filter((s) => scopes.has(s)), unknown };
}
