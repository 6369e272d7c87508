import type { ReadReceipts_ThreadFragment } from '../../__generated__/graphql';

/**
 * Who has read up to where, as "Seen by" names per message id: each participant other than us is listed under the
 * newest loaded message they have read that someone else wrote (having read one's own message says nothing).
 */
export function seenByMessage(
  thread: ReadReceipts_ThreadFragment,
  messages: readonly { id: string; sender: { id: string } }[],
  viewerId: string,
): Map<string, string[]> {
  const position = new Map(messages.map((m, i) => [m.id, i]));
  const result = new Map<string, string[]>();
  for (const state of thread.readStates) {
    if (state.user.id === viewerId || !state.lastReadMessage) continue;
    let at = position.get(state.lastReadMessage.id);
    if (at === undefined) continue;
    while (at >= 0 && messages[at].sender.id === state.user.id) at--;
    if (at < 0) continue;
    const id = messages[at].id;
    result.set(id, [...(result.get(id) ?? []), state.user.name]);
  }
  return result;
}
