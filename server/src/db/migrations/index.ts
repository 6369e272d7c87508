import type { Knex } from 'knex';
import * as createTenants from './20261126A-create-tenants.js';
import * as createUsers from './20261126B-create-users.js';
import * as createPatients from './20261126C-create-patients.js';
import * as createAppointments from './20261126D-create-appointments.js';
import * as createThreads from './20261126E-create-threads.js';
import * as createMessages from './20261126F-create-messages.js';
import * as createThreadParticipants from './20261126G-create-thread-participants.js';
import * as createTasks from './20261126H-create-tasks.js';
import * as createNotifications from './20261126I-create-notifications.js';
import * as createEventLog from './20261126J-create-event-log.js';
import * as createPatientAccessLog from './20261126K-create-patient-access-log.js';
import * as createIntegrationClients from './20261127A-create-integration-clients.js';
import * as patientAccessByIntegrations from './20261127B-patient-access-by-integrations.js';
import * as createEventsPruned from './20261128A-create-events-pruned.js';
import * as tenantsDisabled from './20261202A-tenants-disabled.js';
import * as notificationKindAccountLocked from './20261202B-notification-kind-account-locked.js';
import * as createSecondFactors from './20261202T-create-second-factors.js';
import * as createRecoveryCodes from './20261202U-create-recovery-codes.js';
import * as tenantsSecondFactorRequired from './20261202V-tenants-second-factor-required.js';
import * as patientAccessAudit from './20261202W-patient-access-audit.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order. Never edit a migration that has landed: add a new one. */
const migrations: Record<string, Migration> = {
  '20261126A-create-tenants': createTenants,
  '20261126B-create-users': createUsers,
  '20261126C-create-patients': createPatients,
  '20261126D-create-appointments': createAppointments,
  '20261126E-create-threads': createThreads,
  '20261126F-create-messages': createMessages,
  '20261126G-create-thread-participants': createThreadParticipants,
  '20261126H-create-tasks': createTasks,
  '20261126I-create-notifications': createNotifications,
  '20261126J-create-event-log': createEventLog,
  '20261126K-create-patient-access-log': createPatientAccessLog,
  '20261127A-create-integration-clients': createIntegrationClients,
  '20261127B-patient-access-by-integrations': patientAccessByIntegrations,
  '20261128A-create-events-pruned': createEventsPruned,
  '20261202A-tenants-disabled': tenantsDisabled,
  '20261202B-notification-kind-account-locked': notificationKindAccountLocked,
  '20261202T-create-second-factors': createSecondFactors,
  '20261202U-create-recovery-codes': createRecoveryCodes,
  '20261202V-tenants-second-factor-required': tenantsSecondFactorRequired,
  '20261202W-patient-access-audit': patientAccessAudit,
};

/** Statically imported migrations: the same list runs from TypeScript sources and from the compiled build. */
export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name],
};
