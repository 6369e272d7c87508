import type { GraphQLError } from 'graphql';
import type { Viewer } from '../../auth/tokens.js';
import type { TenantRow } from '../../db/rows.js';
import { SessionEndReason, unauthenticated } from '../../errors.js';

/** What the door needs of a token's clinic, read with the user or integration client it already reads. */
export type ClinicStanding = Pick<TenantRow, 'disabledAt' | 'sessionsEndedAt'>;

/** The refusal of a sign-in to a disabled clinic (`login`, the token endpoint). */
export const CLINIC_DISABLED_MESSAGE = 'This clinic has been disabled: ask the operators of this service to enable it';

/**
 * Why a token may not be used in its clinic, or null (docs/architecture.md, "Clinics"): the clinic is disabled
 * (UNAUTHENTICATED, reason `CLINIC_DISABLED`), or the token's session started before the clinic was last disabled, so
 * it ended then and does not come back when the clinic is enabled again (reason `SIGNED_OUT`, as a sign-out).
 */
export function clinicRefusal(clinic: ClinicStanding, viewer: Viewer): GraphQLError | null {
  if (clinic.disabledAt !== null) return unauthenticated(CLINIC_DISABLED_MESSAGE, SessionEndReason.clinicDisabled);
  if (clinic.sessionsEndedAt !== null && (viewer.sessionStartedAt ?? 0) < clinic.sessionsEndedAt.getTime()) {
    return unauthenticated(
      'This session ended when its clinic was disabled: sign in again',
      SessionEndReason.signedOut,
    );
  }
  return null;
}
