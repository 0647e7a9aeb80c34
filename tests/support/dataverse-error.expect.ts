import { DataverseError } from '../../shared/dataverse/dataverse.errors';

/**
 * Awaits a call that must fail with a DataverseError whose fields match `expected`, and returns the
 * error for further checks.
 */
export async function rejectsWithDataverseError(
  call: Promise<unknown>,
  expected: Record<string, unknown>,
): Promise<DataverseError> {
  const error = await call.then(
    () => {
      throw new Error('expected the call to fail with a DataverseError, and it succeeded');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataverseError);
  expect(error).toMatchObject(expected);
  return error as DataverseError;
}
