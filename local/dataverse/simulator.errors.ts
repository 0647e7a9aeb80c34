// Errors the simulator answers with. Codes and messages follow the real service word for word where
// the reference names them, since clients (and our own) key retry and resync decisions on them.

export class DataverseSimulatorError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryable: boolean;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'DataverseSimulatorError';
    this.status = status;
    this.code = code;
    this.retryable = status === 429 || status >= 500;
    this.headers = headers;
  }

  body(): string {
    return JSON.stringify({ error: { code: this.code, message: this.message } });
  }
}

const E = (status: number, code: string, message: string) =>
  new DataverseSimulatorError(status, code, message);

export const errors = {
  notFound: (table: string, id: string) => E(404, '0x80040217', `${table} With Id = ${id} Does Not Exist`),
  unknownProperty: (name: string, table: string) =>
    E(
      400,
      '0x80060888',
      `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${table}'.`,
    ),
  undeclaredNavigation: (name: string) =>
    E(
      400,
      '0x80060888',
      `An undeclared property '${name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
    ),
  versionMismatch: () =>
    E(
      412,
      '0x80060882',
      "The version of the existing record doesn't match the RowVersion property provided.",
    ),
  duplicateKey: () => E(412, '0x80040237', 'A record with matching key values already exists.'),
  notTracked: (table: string) => E(400, '0x80072491', `Entity ${table} isn't enabled for change tracking.`),
  trackingRefused: (param: string) =>
    E(400, '0x80060888', `The "${param}" query parameter isn't supported when Change Tracking is enabled.`),
  tokenExpired: () =>
    E(400, '0x80044352', 'Version stamp associated with the client has expired. Please perform a full sync.'),
  badRequest: (message: string, code = '0x80060888') => E(400, code, message),
  resourceNotFound: (segment: string) =>
    E(404, '0x80060888', `Resource not found for the segment '${segment}'.`),
  syntax: (position: number, text: string) =>
    E(400, '0x80060888', `Syntax error at position ${position} in '${text}'.`),
  payload: (entitySet: string, detail: string) =>
    E(
      400,
      '0x80048d19',
      `Error identified in Payload provided by the user for Entity :'${entitySet}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : Microsoft.OData.ODataException: ${detail}`,
    ),
  outOfRange: (column: string, table: string, value: unknown, accepted: number[]) =>
    E(
      400,
      '0x8004431a',
      `A validation error occurred.  The value ${String(value)} of '${column}' on record of type '${table}' is outside the valid range. Accepted Values: ${accepted.join(',')}`,
    ),
  tooLong: (column: string, table: string, max: number) =>
    E(
      400,
      '0x80044331',
      `A validation error occurred. The length of the '${column}' attribute of the '${table}' entity exceeded the maximum allowed length of '${max}'.`,
    ),
  readOnlyRecord: (table: string) =>
    E(400, '0x80043b1d', `The object cannot be updated because it is read-only. Entity: ${table}`),
  userDisabled: (id: string) =>
    E(400, '0x80040225', `The specified user (Id = ${id}) is disabled. Consider enabling this user.`),
  listMemberType: (member: string, listTable: string) =>
    E(
      400,
      '0x80040203',
      `The marketing list holds ${listTable} records only: a ${member} cannot be a member of it.`,
    ),
  dynamicList: () =>
    E(
      400,
      '0x80040203',
      'Members cannot be added to or removed from a dynamic marketing list: its query defines them.',
    ),
  leadClosed: () =>
    E(400, '0x80048415', 'The lead is closed. You cannot convert or qualify a lead that is already closed.'),
  methodNotSupported: (method: string, table: string) =>
    E(
      400,
      '0x80040800',
      `The '${method}' method does not support entities of type '${table}'. MessageProcessorCache returned MessageProcessor.Empty.`,
    ),
  batchTooLarge: (max: number) =>
    E(400, '0x8005f103', `The number of requests in the batch exceeds the limit of ${max}.`),
  methodNotAllowed: () => E(405, '0x80060888', 'The requested resource does not support http method.'),
  requestLimit: (limit: number, windowSeconds: number) =>
    E(
      429,
      '0x80072322',
      `Number of requests exceeded the limit of ${limit} over time window of ${windowSeconds} seconds.`,
    ),
  executionLimit: (limitMs: number, windowSeconds: number) =>
    E(
      429,
      '0x80072321',
      `Combined execution time of incoming requests exceeded limit of ${limitMs.toLocaleString('en-US')} milliseconds over time window of ${windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
    ),
  concurrencyLimit: (limit: number) =>
    E(429, '0x80072326', `Number of concurrent requests exceeded the limit of ${limit}.`),
};
