import type { Role } from '../db/rows.js';
import { forbidden, unauthenticated } from '../errors.js';
import type { Viewer } from './tokens.js';

/** Who may do what. One place, so a reader can audit it at a glance. */
export const Permission = {
  manageStaff: ['ADMIN'],
  createPatient: ['ADMIN', 'FRONT_DESK', 'NURSE'],
  bookAppointment: ['ADMIN', 'FRONT_DESK', 'NURSE', 'PROVIDER'],
  checkIn: ['ADMIN', 'FRONT_DESK', 'NURSE'],
  sendAlert: ['ADMIN', 'PROVIDER', 'NURSE'],
  assignTask: ['ADMIN', 'PROVIDER', 'NURSE', 'FRONT_DESK'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof Permission;

export function requireViewer(viewer: Viewer | null): Viewer {
  if (!viewer) throw unauthenticated();
  return viewer;
}

export function can(viewer: Viewer, permission: Permission): boolean {
  return (Permission[permission] as readonly Role[]).includes(viewer.role);
}

export function requirePermission(viewer: Viewer | null, permission: Permission): Viewer {
  const v = requireViewer(viewer);
  if (!can(v, permission)) {
    throw forbidden(`Your role (${v.role}) may not ${permission.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)}`);
  }
  return v;
}
