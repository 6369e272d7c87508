import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeResolvers } from '@graphql-tools/merge';
import { makeExecutableSchema } from '@graphql-tools/schema';
import type { GraphQLSchema } from 'graphql';
import type { Resolvers } from './__generated__/resolvers-types.js';
import { appointmentResolvers } from './domains/appointments/resolvers.js';
import { appointmentSubscriptions } from './domains/appointments/subscriptions.js';
import { dashboardSubscriptions } from './domains/dashboard/subscriptions.js';
import { identityResolvers } from './domains/identity/resolvers.js';
import { secondFactorResolvers } from './domains/identity/secondFactorResolvers.js';
import { integrationResolvers } from './domains/integrations/resolvers.js';
import { messagingResolvers } from './domains/messaging/resolvers.js';
import { messagingSubscriptions } from './domains/messaging/subscriptions.js';
import { notificationResolvers } from './domains/notifications/resolvers.js';
import { notificationSubscriptions } from './domains/notifications/subscriptions.js';
import { accessLogResolvers } from './domains/patients/accessLogResolvers.js';
import { auditPatientFields } from './domains/patients/auditedFields.js';
import { patientResolvers } from './domains/patients/resolvers.js';
import { viewingResolvers } from './domains/patients/viewingResolvers.js';
import { presenceResolvers } from './domains/presence/resolvers.js';
import { presenceSubscriptions } from './domains/presence/subscriptions.js';
import { taskResolvers } from './domains/tasks/resolvers.js';
import { scalarResolvers } from './scalars.js';

/** schema/ at the repository root, found from this file in the sources and in the build alike. */
export const SCHEMA_DIR = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!readdirSync(dir).includes('schema') || !readdirSync(dir).includes('package.json')) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('schema/ folder not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return path.join(dir, 'schema');
})();

export function loadTypeDefs(): string[] {
  return readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(path.join(SCHEMA_DIR, f), 'utf8'));
}

export const resolvers: Resolvers = mergeResolvers([
  scalarResolvers,
  identityResolvers,
  secondFactorResolvers,
  patientResolvers,
  appointmentResolvers,
  messagingResolvers,
  taskResolvers,
  notificationResolvers,
  appointmentSubscriptions,
  notificationSubscriptions,
  messagingSubscriptions,
  presenceResolvers,
  presenceSubscriptions,
  viewingResolvers,
  integrationResolvers,
  dashboardSubscriptions,
  accessLogResolvers,
]) as Resolvers;

/** One schema object, shared by HTTP and WebSocket; every field that gives a patient record is audited. */
export function buildSchema(): GraphQLSchema {
  return auditPatientFields(
    makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers, inheritResolversFromInterfaces: true }),
  );
}
