import { CombinedGraphQLErrors } from '@apollo/client';
import { useMutation } from '@apollo/client/react';
import { useState } from 'react';
import { LoginDocument, type LoginMutation } from '../__generated__/graphql';
import type { TotpEnrolment } from '../components/secondFactor/TotpSetup';

export interface Credentials {
  tenant: string;
  email: string;
  password: string;
}

export type SignedIn = LoginMutation['login'] & { email: string };

/**
 * The server's `SECOND_FACTOR_REQUIRED` answer to a right password: a code is needed (`CODE_NEEDED`), or the clinic
 * requires a second factor this user has not set up yet (`ENROLMENT_NEEDED`, with the secret to add to an app).
 */
export interface SecondFactorChallenge {
  credentials: Credentials;
  enrolment: TotpEnrolment | null;
}

function challengeOf(error: unknown, credentials: Credentials): SecondFactorChallenge | null {
  if (!CombinedGraphQLErrors.is(error)) return null;
  const extensions = error.errors.find((e) => e.extensions?.code === 'SECOND_FACTOR_REQUIRED')?.extensions;
  if (!extensions) return null;
  const enrolment = extensions.enrolment as TotpEnrolment | undefined;
  return { credentials, enrolment: extensions.reason === 'ENROLMENT_NEEDED' && enrolment ? enrolment : null };
}

/**
 * Sign-in in up to three steps, shared by the sign-in page and the lock screen: the password; then, if the server asks,
 * a second-factor code (enrolling first where the clinic requires it); then, when that sign-in enrolled, the recovery
 * codes, shown once before the app opens. `signIn` throws what the page should show (wrong password, wrong code).
 */
export function useSignIn(onSignedIn: (payload: SignedIn) => void) {
  const [login, { loading }] = useMutation(LoginDocument);
  const [challenge, setChallenge] = useState<SecondFactorChallenge | null>(null);
  const [enrolled, setEnrolled] = useState<SignedIn | null>(null);

  const signIn = async (credentials: Credentials, code?: string): Promise<boolean> => {
    try {
      const { data } = await login({ variables: { ...credentials, code } });
      if (!data) return false;
      const payload = { ...data.login, email: credentials.email };
      setChallenge(null);
      if (payload.recoveryCodes?.length) setEnrolled(payload);
      else onSignedIn(payload);
      return true;
    } catch (err) {
      const asked = code === undefined ? challengeOf(err, credentials) : null;
      if (!asked) throw err;
      setChallenge(asked);
      return false;
    }
  };

  return {
    loading,
    /** Set while the server waits for a second-factor code. */
    challenge,
    /** Set after a sign-in that enrolled: its recovery codes are to be shown before going on. */
    enrolled,
    signIn,
    /** Sends the code for the pending challenge. */
    submitCode: (code: string) => (challenge ? signIn(challenge.credentials, code) : Promise.resolve(false)),
    /** Back to the password. */
    cancel: () => setChallenge(null),
    /** The recovery codes were seen: into the app. */
    finish: () => {
      if (enrolled) onSignedIn(enrolled);
      setEnrolled(null);
    },
  };
}
