import {
  defaultFieldResolver,
  getNamedType,
  isObjectType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../../context.js';
import type { PatientRow } from '../../db/rows.js';

/**
 * Every field of the schema that gives a `Patient` notes what it gave in the operation's `PatientReads`
 * (docs/architecture.md, "Access audit"): `patient(id)`, `patients` edges, an appointment's or a thread's patient, a
 * subscription event's, and any field added later that returns one, without it declaring anything. The root
 * mutations that return a patient (`createPatient`, `updatePatient`) are left out: they write their entry (CREATE,
 * UPDATE) in the transaction of the change.
 */
export function auditPatientFields(schema: GraphQLSchema): GraphQLSchema {
  const mutation = schema.getMutationType();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || type === mutation) continue;
    for (const field of Object.values(type.getFields())) {
      if (getNamedType(field.type).name !== 'Patient') continue;
      field.resolve = audited(field.resolve ?? defaultFieldResolver);
    }
  }
  return schema;
}

function audited(resolve: GraphQLFieldResolver<unknown, Context>): GraphQLFieldResolver<unknown, Context> {
  return (source, args, ctx, info) => {
    const value = resolve(source, args, ctx, info);
    if (value instanceof Promise) {
      return value.then((resolved: unknown) => {
        note(ctx, info, resolved);
        return resolved;
      });
    }
    note(ctx, info, value);
    return value;
  };
}

function note(ctx: Context, info: GraphQLResolveInfo, value: unknown): void {
  if (value === null || value === undefined) return;
  const through = fieldPath(info);
  if (Array.isArray(value)) {
    for (const patient of value as Array<PatientRow | null>) if (patient) ctx.patientReads.add(patient.id, through);
  } else ctx.patientReads.add((value as PatientRow).id, through);
}

const MAX_PATH = 500;
const paths = new WeakMap<OperationDefinitionNode, Map<string, string>>();

/**
 * The field path of a resolver as the schema names it, whatever aliases the client chose:
 * `Query.schedule > Appointment.patient` (list positions left out). Once per operation and response path.
 */
export function fieldPath(info: GraphQLResolveInfo): string {
  const steps: Array<{ key: string; typename: string | undefined }> = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) {
    if (typeof p.key === 'string') steps.push({ key: p.key, typename: p.typename });
  }
  steps.reverse();
  const responsePath = steps.map((s) => s.key).join('.');
  let byPath = paths.get(info.operation);
  if (!byPath) paths.set(info.operation, (byPath = new Map()));
  let path = byPath.get(responsePath);
  if (path === undefined) {
    let selections: SelectionSetNode | undefined = info.operation.selectionSet;
    const parts: string[] = [];
    for (const { key, typename } of steps) {
      const field: FieldNode | undefined = selections && fieldOf(selections, key, info.fragments);
      parts.push(`${typename ?? '?'}.${field?.name.value ?? key}`);
      selections = field?.selectionSet;
    }
    path = parts.join(' > ').slice(0, MAX_PATH);
    byPath.set(responsePath, path);
  }
  return path;
}

type FieldNode = Extract<SelectionSetNode['selections'][number], { kind: Kind.FIELD }>;

/** The field of a selection set (through its fragments) whose response key is `key`. */
function fieldOf(
  set: SelectionSetNode,
  key: string,
  fragments: Record<string, FragmentDefinitionNode>,
  seen = new Set<string>(),
): FieldNode | undefined {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      if ((s.alias ?? s.name).value === key) return s;
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      const found = fieldOf(s.selectionSet, key, fragments, seen);
      if (found) return found;
    } else if (!seen.has(s.name.value)) {
      seen.add(s.name.value);
      const fragment = fragments[s.name.value];
      const found = fragment && fieldOf(fragment.selectionSet, key, fragments, seen);
      if (found) return found;
    }
  }
  return undefined;
}
