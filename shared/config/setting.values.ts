import { z } from 'zod';

/** An optional text setting: trimmed, and an empty value (as App Service stores a cleared one) counts as unset. */
export const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();
