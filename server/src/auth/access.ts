import {
  getNamedType,
  getOperationAST,
  GraphQLError,
  isObjectType,
  Kind,
  type ConstDirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { ErrorCode, unauthenticated } from '../errors.js';
import { isScope, scopesOf, type Scope } from './scopes.js';
import type { Viewer } from './tokens.js';

/**
 * Who may select a field, as the schema says it (schema/access.graphql):
 * - `public`: anyone, even without a token (`login`);
 * - `staff`: signed-in staff only (`@staffOnly`): fields about "me", and changes made in a staff member's name;
 * - `scope`: staff, and integration clients whose token carries the scope (`@requiresScope`).
 * A field without a directive of its own takes its type's; fields of a type without one need nothing more than the
 * field that led to them.
 */
export type Requirement = { kind: 'public' } | { kind: 'staff' } | { kind: 'scope'; scope: Scope };

interface Need {
  /** `Type.field` */
  coordinate: string;
  requirement: Requirement;
}

const ROOT_TYPES = ['Query', 'Mutation', 'Subscription'] as const;

function fromDirectives(directives: readonly ConstDirectiveNode[] | undefined, where: string): Requirement | undefined {
  const found: Requirement[] = [];
  for (const directive of directives ?? []) {
    const name = directive.name.value;
    if (name === 'public') found.push({ kind: 'public' });
    else if (name === 'staffOnly') found.push({ kind: 'staff' });
    else if (name === 'requiresScope') {
      const arg = directive.arguments?.find((a) => a.name.value === 'scope');
      const scope = arg?.value.kind === Kind.STRING ? arg.value.value : undefined;
      if (!isScope(scope))
        throw new Error(`${where}: @requiresScope names an unknown scope "${scope}" (see server/src/auth/scopes.ts)`);
      found.push({ kind: 'scope', scope });
    }
  }
  if (found.length > 1) throw new Error(`${where} has more than one of @public, @staffOnly and @requiresScope`);
  return found[0];
}

/**
 * The requirement of every field of the schema, read once from its directives. Throws (so the server does not start)
 * when a root field has none, names an unknown scope, or has two.
 */
export class AccessRules {
  private readonly rules = new Map<GraphQLObjectType, Map<string, Requirement>>();
  private readonly byDocument = new WeakMap<DocumentNode, Map<string, Need[]>>();

  constructor(private readonly schema: GraphQLSchema) {
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      const ofType = fromDirectives(
        [type.astNode, ...type.extensionASTNodes].flatMap((n) => n?.directives ?? []),
        type.name,
      );
      const fields = new Map<string, Requirement>();
      for (const field of Object.values(type.getFields())) {
        const where = `${type.name}.${field.name}`;
        const own = fromDirectives(field.astNode?.directives, where);
        const requirement = own ?? ofType;
        if (!requirement && (ROOT_TYPES as readonly string[]).includes(type.name)) {
          throw new Error(
            `${where} says nothing about who may use it: give it @public, @staffOnly or @requiresScope(scope: ...)`,
          );
        }
        if (requirement) fields.set(field.name, requirement);
      }
      this.rules.set(type, fields);
    }
  }

  /** The requirement of one field, or undefined when it needs nothing beyond what led to it. */
  requirementOf(type: GraphQLObjectType, fieldName: string): Requirement | undefined {
    return this.rules.get(type)?.get(fieldName);
  }

  /** Every root field with its requirement (for docs and tests). */
  rootFields(): Array<{ coordinate: string; field: GraphQLField<unknown, unknown>; requirement: Requirement }> {
    return ROOT_TYPES.flatMap((name) => {
      const type = this.schema.getType(name);
      if (!isObjectType(type)) return [];
      return Object.values(type.getFields()).map((field) => ({
        coordinate: `${name}.${field.name}`,
        field,
        requirement: this.requirementOf(type, field.name)!,
      }));
    });
  }

  /**
   * What one operation of a validated document needs: every field it can select, fragments followed. Decided from the
   * document alone, before anything runs, so HTTP, WebSocket and SSE refuse the same operations the same way and a
   * subscription is refused before it starts. Fields under `@skip`/`@include` count too: a conservative answer.
   */
  needs(document: DocumentNode, operationName?: string | null): Need[] {
    let ofDocument = this.byDocument.get(document);
    if (!ofDocument) this.byDocument.set(document, (ofDocument = new Map()));
    const key = operationName ?? '';
    const cached = ofDocument.get(key);
    if (cached) return cached;

    const operation = getOperationAST(document, operationName);
    const needs = new Map<string, Need>();
    if (operation) {
      const root = this.schema.getRootType(operation.operation);
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
      const seen = new Set<string>();
      const walk = (type: GraphQLNamedType | null | undefined, selectionSet: SelectionSetNode | undefined) => {
        if (!selectionSet || !isObjectType(type)) return;
        for (const selection of selectionSet.selections) {
          if (selection.kind === Kind.FIELD) {
            const name = selection.name.value;
            if (name.startsWith('__')) continue; // __typename, __schema, __type: introspection is open to everyone
            const field = type.getFields()[name];
            if (!field) continue;
            const requirement = this.requirementOf(type, name);
            const coordinate = `${type.name}.${name}`;
            if (requirement && !needs.has(coordinate)) needs.set(coordinate, { coordinate, requirement });
            walk(getNamedType(field.type), selection.selectionSet);
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            walk(
              selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : type,
              selection.selectionSet,
            );
          } else {
            const fragment = fragments.get(selection.name.value);
            const visit = `${type.name}/${selection.name.value}`;
            if (!fragment || seen.has(visit)) continue;
            seen.add(visit);
            walk(this.schema.getType(fragment.typeCondition.name.value), fragment.selectionSet);
          }
        }
      };
      walk(root, operation.selectionSet);
    }
    const list = [...needs.values()];
    ofDocument.set(key, list);
    return list;
  }

  /**
   * The errors that refuse this operation to this caller, or none. Anonymous callers may select only `@public` fields
   * (UNAUTHENTICATED, HTTP 401); integration clients get FORBIDDEN (HTTP 403) naming the field and the scope missing.
   */
  check(document: DocumentNode, operationName: string | null | undefined, viewer: Viewer | null): GraphQLError[] {
    const needs = this.needs(document, operationName);
    if (!viewer) return needs.some((n) => n.requirement.kind !== 'public') ? [unauthenticated()] : [];
    if (viewer.kind === 'user') return [];
    const held = scopesOf(viewer);
    const errors: GraphQLError[] = [];
    for (const { coordinate, requirement } of needs) {
      if (requirement.kind === 'staff') {
        errors.push(refused(`${coordinate} is for signed-in staff; integration clients cannot use it`, coordinate));
      } else if (requirement.kind === 'scope' && !held.has(requirement.scope)) {
        errors.push(
          refused(
            `${coordinate} needs the scope ${requirement.scope}, which this token does not carry`,
            coordinate,
            requirement.scope,
          ),
        );
      }
    }
    return errors;
  }
}

function refused(message: string, field: string, scope?: Scope): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: ErrorCode.FORBIDDEN, field, ...(scope ? { scope } : {}), http: { status: 403 } },
  });
}
