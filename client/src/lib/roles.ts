import type { Role } from '../__generated__/graphql';

/** A role as staff read it. */
export const ROLE_LABEL: Record<Role, string> = {
  ADMIN: 'Administrator',
  PROVIDER: 'Provider',
  NURSE: 'Nurse',
  FRONT_DESK: 'Front desk',
};
