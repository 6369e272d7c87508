const plurals = new Intl.PluralRules('en-US');

/** "1 appointment", "2 appointments", "0 appointments": a number with its noun in the right form. */
export function count(n: number, one: string, other = `${one}s`): string {
  return `${n} ${plurals.select(n) === 'one' ? one : other}`;
}
