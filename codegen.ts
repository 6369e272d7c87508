import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * schema/*.graphql is the source of truth. This generates the resolver types the server is typed from, and the typed
 * documents of the client's operations (the `.graphql` files that sit beside the components using them).
 * The output is never committed (.gitignore): `npm run codegen` runs before dev, build, typecheck and test,
 * so a stale copy cannot exist.
 */
const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  generates: {
    'server/src/__generated__/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useIndexSignature: true,
        useTypeImports: true,
        enumsAsTypes: true,
        contextType: '../context.js#Context',
        scalars: {
          DateTime: { input: 'Date', output: 'Date | string' },
          LocalDate: { input: 'string', output: 'string' },
          ID: { input: 'string', output: 'string' },
        },
        // GraphQL types backed by a database row: fields the row lacks must get a resolver.
        mappers: {
          Tenant: '../db/rows.js#TenantRow',
          User: '../db/rows.js#UserRow',
          Patient: '../db/rows.js#PatientRow',
          Appointment: '../db/rows.js#AppointmentRow',
          Thread: '../db/rows.js#ThreadRow',
          Message: '../db/rows.js#MessageRow',
          ReadState: '../db/rows.js#ReadStateRow',
          Task: '../db/rows.js#TaskRow',
          Notification: '../db/rows.js#NotificationRow',
          AppointmentEvent: '../subscriptions/feedItems.js#FeedItem',
          MessageEvent: '../subscriptions/feedItems.js#FeedItem',
          ReadReceiptEvent: '../subscriptions/feedItems.js#FeedItem',
          NotificationEvent: '../subscriptions/feedItems.js#FeedItem',
          TypingEvent: '../events/channels.js#TypingSignal',
          Presence: '../events/channels.js#PresenceSignal',
          PatientViewersEvent: '../events/channels.js#ViewingSignal',
          UnreadCounts: '../domains/messaging/unreadCounts.js#UnreadCountsModel',
          IntegrationClient: '../db/rows.js#IntegrationClientRow',
          PatientAccess: '../db/rows.js#PatientAccessRow',
        },
        mapperTypeSuffix: 'Mapper',
      },
    },
    // Apollo Client's advice: typescript-operations + typed-document-node rather than the client preset. Hooks infer
    // result and variable types from the documents, and the documents stay plain `.graphql` files next to components.
    'client/src/__generated__/graphql.ts': {
      documents: 'client/src/**/*.graphql',
      plugins: ['typescript', 'typescript-operations', 'typed-document-node'],
      config: {
        // Only the enums, inputs and scalars the operations use, not every schema type.
        onlyOperationTypes: true,
        useTypeImports: true,
        enumsAsTypes: true,
        // Nullable result fields are `T | null`, never optional; nullable inputs may be left out.
        avoidOptionals: { field: true, inputValue: false },
        defaultScalarType: 'unknown',
        // Apollo Client adds __typename to every object selection (but not to the root types).
        nonOptionalTypename: true,
        skipTypeNameForRoot: true,
        scalars: {
          DateTime: 'string',
          LocalDate: 'string',
          ID: 'string',
        },
      },
    },
  },
};

export default config;
