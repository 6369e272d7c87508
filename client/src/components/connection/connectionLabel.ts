import type { ConnectionState } from '../../apollo/connectionState';

/** The words for a connection state, shared by the badge and the full indicator. */
export function connectionLabel(state: Pick<ConnectionState, 'status' | 'attempt' | 'maxAttempts'>): string {
  switch (state.status) {
    case 'connected':
      return 'Live';
    case 'connecting':
      return 'Connecting…';
    case 'reconnecting':
      return `Reconnecting (attempt ${state.attempt} of ${state.maxAttempts})`;
    case 'disconnected':
      return 'Offline';
  }
}
