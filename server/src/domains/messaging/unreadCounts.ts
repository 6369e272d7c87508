/**
 * What the `unreadCounts` subscription resolves from: counts read fresh for the subscriber, and the thread concerned.
 */
export interface UnreadCountsModel {
  messages: number;
  notifications: number;
  threadId: string | null;
}
