import type { Role } from '../db/rows.js';
import { forbidden, unauthenticated } from '../errors.js';
import { scopesOf, type Scope } from './scopes.js';
import type { UserViewer, Viewer } from './tokens.js';

/** Who may do what. One place, so a reader can audit it at a glance. */
export const Permission = {
  manageStaff: ['ADMIN'],
  manageIntegrations: ['ADMIN'],
  watchConnections: ['ADMIN'],
  readAccessAudit: ['ADMIN'],
  createPatient: ['ADMIN', 'FRONT_DESK', 'NURSE'],
  bookAppointment: ['ADMIN', 'FRONT_DESK', 'NURSE', 'PROVIDER'],
  checkIn: ['ADMIN', 'FRONT_DESK', 'NURSE'],
  sendAlert: ['ADMIN', 'PROVIDER', 'NURSE'],
  assignTask: ['ADMIN', 'PROVIDER', 'NURSE', 'FRONT_DESK'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof Permission;

/**
 * The permissions an integration client may hold, and the scope that grants each. Anything not listed is done only
 * by staff, in their own name.
 */
export const IntegrationPermission: Partial<Record<Permission, Scope>> = {
  createPatient: 'patients:write',
  bookAppointment: 'appointments:write',
  checkIn: 'appointments:write',
};

/** A signed-in staff member: integration clients are FORBIDDEN here (the schema's `@staffOnly` refuses them first). */
export function requireViewer(viewer: Viewer | null): UserViewer {
  if (!viewer) throw unauthenticated();
  if (viewer.kind !== 'user') throw forbidden('This is for signed-in staff; integration clients cannot use it');
  return viewer;
}

/** Any authenticated caller, staff or integration client (the schema's `@requiresScope` has checked the scope). */
export function requireCaller(viewer: Viewer | null): Viewer {
  if (!viewer) throw unauthenticated();
  return viewer;
}

export function can(viewer: Viewer, permission: Permission): boolean {
  if (viewer.kind === 'integration') {
    const scope = IntegrationPermission[permission];
    return scope !== undefined && scopesOf(viewer).has(scope);
  }
  return (Permission[permission] as readonly Role[]).includes(viewer.role);
}

const describe = (permission: Permission) => permission.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);

/** A signed-in staff member whose role allows `permission`. */
export function requirePermission(viewer: Viewer | null, permission: Permission): UserViewer {
  const v = requireViewer(viewer);
  if (!can(v, permission)) throw forbidden(`Your role (${v.role}) may not ${describe(permission)}`);
  return v;
}

/** Staff whose role allows `permission`, or an integration client holding the scope that grants it. */
export function requireGrant(viewer: Viewer | null, permission: Permission): Viewer {
  const v = requireCaller(viewer);
  if (v.kind === 'user') return requirePermission(v, permission);
  if (!can(v, permission)) throw forbidden(`This client may not ${describe(permission)}`);
  return v;
}
