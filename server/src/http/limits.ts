import { GraphQLError, Kind, type ASTNode, type ValidationContext, type ValidationRule } from 'graphql';
import { ErrorCode } from '../errors.js';

/** Limits on what one operation may ask for; the same over HTTP and WebSocket. */
export const OperationLimits = {
  /** Longest document accepted, in characters. */
  maxDocumentLength: 20_000,
  /** Deepest nesting of fields (fragments followed). */
  maxDepth: 10,
  /** Most aliases in one document: many aliases of one costly field are a cheap way to multiply work. */
  maxAliases: 30,
} as const;

function tooMuch(message: string, node?: ASTNode): GraphQLError {
  return new GraphQLError(message, { nodes: node ? [node] : undefined, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } });
}

/** Refuses documents nested deeper than `maxDepth`, following fragment spreads (cycles are another rule's job). */
export function depthLimit(maxDepth: number = OperationLimits.maxDepth): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map(context.getDocument().definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d]] : [])));
    const depthOf = (node: ASTNode, depth: number, seen: Set<string>): number => {
      if (node.kind === Kind.FIELD) {
        if (!node.selectionSet) return depth;
        return Math.max(depth, ...node.selectionSet.selections.map((s) => depthOf(s, depth + 1, seen)));
      }
      if (node.kind === Kind.INLINE_FRAGMENT) {
        return Math.max(depth, ...node.selectionSet.selections.map((s) => depthOf(s, depth, seen)));
      }
      if (node.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(node.name.value);
        if (!fragment || seen.has(node.name.value)) return depth;
        const next = new Set(seen).add(node.name.value);
        return Math.max(depth, ...fragment.selectionSet.selections.map((s) => depthOf(s, depth, next)));
      }
      return depth;
    };
    return {
      OperationDefinition(operation) {
        const depth = Math.max(0, ...operation.selectionSet.selections.map((s) => depthOf(s, 1, new Set())));
        if (depth > maxDepth) context.reportError(tooMuch(`The operation is nested ${depth} levels deep; at most ${maxDepth} are allowed`, operation));
      },
    };
  };
}

export function aliasLimit(maxAliases: number = OperationLimits.maxAliases): ValidationRule {
  return (context: ValidationContext) => {
    let aliases = 0;
    return {
      Field(field) {
        if (field.alias && ++aliases === maxAliases + 1) {
          context.reportError(tooMuch(`The document uses more than ${maxAliases} aliases`, field));
        }
      },
    };
  };
}

export const validationRules: ValidationRule[] = [depthLimit(), aliasLimit()];
