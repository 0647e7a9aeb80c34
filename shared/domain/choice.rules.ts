/**
 * Multi-select choices: Dynamics returns the chosen values as "1,3" with the labels as "A; C" in the
 * FormattedValue annotation, and refuses a value that is not one of the column's options.
 */

/** The chosen values the column has no option for, in value order (empty: every value is known). */
export function unknownOptions(values: readonly number[], known: ReadonlyMap<number, string>): number[] {
  return [...new Set(values)].filter((value) => !known.has(value)).sort((a, b) => a - b);
}
