import { DateTimeResolver, LocalDateResolver } from 'graphql-scalars';
import type { Resolvers } from './__generated__/resolvers-types.js';

/**
 * DateTime accepts RFC 3339 date-times and returns `Date`s to resolvers; LocalDate checks `YYYY-MM-DD` is a real day.
 */
export const scalarResolvers: Resolvers = {
  DateTime: DateTimeResolver,
  LocalDate: LocalDateResolver,
};
