/**
 * Row types of the database tables, in the camelCase the data layer returns them in.
 * codegen.ts maps GraphQL types onto these (mappers), so a GraphQL field a row lacks needs a resolver.
 */
export type Role = 'ADMIN' | 'PROVIDER' | 'NURSE' | 'FRONT_DESK';
export type AppointmentStatus = 'SCHEDULED' | 'CHECKED_IN' | 'IN_PROGRESS' | 'COMPLETED' | 'CANCELLED' | 'NO_SHOW';
export type Priority = 'LOW' | 'NORMAL' | 'HIGH' | 'URGENT';
export type NotificationKind = 'TASK_ASSIGNED' | 'ALERT' | 'LAB_RESULT' | 'NEW_MESSAGE' | 'ACCOUNT_LOCKED';

export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  timeZone: string;
  /** Whether every staff member must pass a second factor at sign-in (set by an admin). */
  secondFactorRequired: boolean;
  createdAt: Date;
  /** Set while the operators have the clinic disabled (`npm run clinics -- disable`); null while it is active. */
  disabledAt: Date | null;
  /** When it was last disabled: sessions that started before it are over, even once it is enabled again. */
  sessionsEndedAt: Date | null;
}

export interface UserRow {
  id: string;
  tenantId: string;
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
}

export interface PatientRow {
  id: string;
  tenantId: string;
  mrn: string;
  firstName: string;
  lastName: string;
  /** 'YYYY-MM-DD' */
  dateOfBirth: string;
  phone: string | null;
  email: string | null;
  createdAt: Date;
}

export interface AppointmentRow {
  id: string;
  tenantId: string;
  providerId: string;
  patientId: string;
  startsAt: Date;
  endsAt: Date;
  room: string | null;
  reason: string | null;
  status: AppointmentStatus;
  cancellationReason: string | null;
  checkedInAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ThreadRow {
  id: string;
  tenantId: string;
  subject: string;
  patientId: string | null;
  createdBy: string;
  createdAt: Date;
  lastActivityAt: Date;
}

export interface MessageRow {
  id: string;
  tenantId: string;
  threadId: string;
  senderId: string;
  body: string;
  /** Orders messages; grows with every message sent. */
  seq: number;
  createdAt: Date;
}

/** One participant of a thread and how far they have read it. */
export interface ReadStateRow {
  tenantId: string;
  threadId: string;
  userId: string;
  lastReadSeq: number;
  lastReadMessageId: string | null;
  lastReadAt: Date | null;
}

export interface TaskRow {
  id: string;
  tenantId: string;
  title: string;
  details: string | null;
  priority: Priority;
  status: 'OPEN' | 'COMPLETED';
  dueAt: Date | null;
  patientId: string | null;
  assigneeId: string;
  createdBy: string;
  createdAt: Date;
  completedAt: Date | null;
}

export interface NotificationRow {
  id: string;
  tenantId: string;
  userId: string;
  kind: NotificationKind;
  priority: Priority;
  title: string;
  taskId: string | null;
  threadId: string | null;
  patientId: string | null;
  readAt: Date | null;
  createdAt: Date;
}

/** One entry of the durable event log (docs/architecture.md, invariant 2). */
export interface EventRow {
  tenantId: string;
  /** Grows in commit order within the tenant. */
  seq: number;
  topic: string;
  kind: string;
  entityId: string;
  /** The user an event concerns (the recipient of a notification or task, the reader of a read receipt), if any. */
  userId: string | null;
  /** The thread an event belongs to (messages, read receipts), if any. */
  threadId: string | null;
  /** The provider an event concerns (appointments), if any. */
  providerId: string | null;
  /** Small, non-PHI facts of the change (for example a cancellation reason is not stored here). */
  data: Record<string, unknown>;
  occurredAt: Date;
}

/** An integration client of a clinic (OAuth 2.0 client credentials). The secret is never stored, only its hash. */
export interface IntegrationClientRow {
  /** The OAuth `client_id`. */
  id: string;
  tenantId: string;
  name: string;
  /** Granted scopes (see server/src/auth/scopes.ts). */
  scopes: string[];
  /** SHA-256 of the secret, hex. */
  secretHash: string;
  /** The admin who created it; null when an operator created it with `npm run integrations`. */
  createdBy: string | null;
  createdAt: Date;
  /** When it last obtained a token. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** A user's TOTP authenticator (RFC 6238): pending until `confirmedAt` is set by a first valid code. */
export interface SecondFactorRow {
  tenantId: string;
  userId: string;
  /** Base32, as the authenticator app was given it. */
  secret: string;
  createdAt: Date;
  confirmedAt: Date | null;
  /** The newest time step a code was accepted for (codes of it and earlier steps are refused); null before any. */
  lastUsedStep: number | null;
}

/** How a patient's record reached its reader (docs/architecture.md, "Access audit"). */
export type AccessTransport = 'HTTP' | 'WEBSOCKET' | 'SSE';
export type AccessAction = 'VIEW' | 'CREATE' | 'UPDATE';

/** One entry of the access audit: who read (a user or an integration client, exactly one), which patient, when, how. */
export interface PatientAccessRow {
  id: number;
  tenantId: string;
  patientId: string;
  userId: string | null;
  integrationClientId: string | null;
  action: AccessAction;
  /** Null for entries written before transports were recorded. */
  transport: AccessTransport | null;
  /** The field path that gave the record, e.g. `Query.schedule > Appointment.patient`; null before it was recorded. */
  through: string | null;
  requestId: string | null;
  at: Date;
}
