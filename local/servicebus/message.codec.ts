import { message as rheaMessage, types, type Typed } from 'rhea';

interface ReaderLike {
  position: number;
  remaining(): number;
  read(): Typed;
}
interface WriterLike {
  write(value: Typed): void;
  toBuffer(): Buffer;
}
/** rhea exposes its AMQP Reader/Writer at runtime; its typings leave them out. */
const codecTypes = types as unknown as {
  Reader: new (buffer: Buffer) => ReaderLike;
  Writer: new () => WriterLike;
};

/** Message format of a Service Bus batch: one outer message whose data sections are messages. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

const SECTION = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  footer: 0x78,
} as const;

const SYMBOLIC_SECTION: Record<string, number> = {
  'amqp:header:list': SECTION.header,
  'amqp:delivery-annotations:map': SECTION.deliveryAnnotations,
  'amqp:message-annotations:map': SECTION.messageAnnotations,
  'amqp:properties:list': SECTION.properties,
  'amqp:application-properties:map': SECTION.applicationProperties,
  'amqp:data:binary': SECTION.data,
  'amqp:footer:map': SECTION.footer,
};

/** Typed map entries in wire order, so re-encoding keeps the sender's AMQP types. */
export type TypedEntries = Map<string, Typed>;

export interface ParsedMessage {
  durable: boolean;
  priority: number;
  ttlMs: number | undefined;
  messageId: string | undefined;
  sessionId: string | undefined;
  annotations: TypedEntries;
  applicationProperties: TypedEntries | undefined;
  /** properties section as sent (kept byte for byte). */
  propertiesRaw: Buffer;
  /** body sections and footer as sent. */
  bodyRaw: Buffer;
  size: number;
}

interface TypedLike {
  value: unknown;
  descriptor?: { value: unknown };
}

const descriptorCode = (section: TypedLike): number | undefined => {
  const d = section.descriptor?.value;
  if (typeof d === 'number') return d;
  if (typeof d === 'string') return SYMBOLIC_SECTION[d];
  return undefined;
};

const typedMapEntries = (section: TypedLike): TypedEntries => {
  const out: TypedEntries = new Map();
  const items = section.value as Typed[] | undefined;
  if (!Array.isArray(items)) return out;
  for (let i = 0; i + 1 < items.length; i += 2) {
    const key = types.unwrap(items[i]) as unknown;
    out.set(String(key), items[i + 1] as Typed);
  }
  return out;
};

export const unwrapEntries = (entries: TypedEntries | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  if (!entries) return out;
  for (const [k, v] of entries) out[k] = types.unwrap(v) as unknown;
  return out;
};

const messageIdToString = (id: unknown): string | undefined => {
  if (id === undefined || id === null) return undefined;
  if (Buffer.isBuffer(id)) return id.length === 16 ? uuidToString(id) : id.toString('hex');
  return String(id);
};

const uuidToString = (b: Buffer): string => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** Splits one encoded AMQP message into the parts the broker reads and the parts it only relays. */
export function parseMessage(buffer: Buffer): ParsedMessage {
  const decoded = rheaMessage.decode(buffer) as {
    durable?: boolean;
    priority?: number;
    ttl?: number;
    message_id?: unknown;
    group_id?: string;
  };
  const reader = new codecTypes.Reader(buffer);
  let annotations: TypedEntries = new Map();
  let applicationProperties: TypedEntries | undefined;
  let propertiesRaw: Buffer = Buffer.alloc(0);
  let bodyStart = -1;
  while (reader.remaining()) {
    const start = reader.position;
    const section = reader.read() as unknown as TypedLike;
    const code = descriptorCode(section);
    if (code === SECTION.messageAnnotations) annotations = typedMapEntries(section);
    else if (code === SECTION.applicationProperties) applicationProperties = typedMapEntries(section);
    else if (code === SECTION.properties) propertiesRaw = buffer.subarray(start, reader.position);
    else if (code !== SECTION.header && code !== SECTION.deliveryAnnotations && bodyStart < 0) {
      bodyStart = start;
    }
  }
  return {
    durable: decoded.durable ?? false,
    priority: decoded.priority ?? 4,
    ttlMs: typeof decoded.ttl === 'number' ? decoded.ttl : undefined,
    messageId: messageIdToString(decoded.message_id),
    sessionId: decoded.group_id ?? undefined,
    annotations,
    applicationProperties,
    propertiesRaw,
    bodyRaw: bodyStart < 0 ? Buffer.alloc(0) : buffer.subarray(bodyStart),
    size: buffer.length,
  };
}

/**
 * Like parseMessage, but gives the message an id when the sender left it out, as Service Bus
 * does (the SDK relies on every received message having one).
 */
export function parseIncoming(buffer: Buffer, newId: () => string): ParsedMessage {
  const parsed = parseMessage(buffer);
  if (parsed.messageId !== undefined) return parsed;
  const decoded = rheaMessage.decode(buffer) as { message_id?: string };
  decoded.message_id = newId();
  return parseMessage(rheaMessage.encode(decoded as never));
}

/** The inner messages of a batch transfer (format 0x80013700). */
export function splitBatch(buffer: Buffer): Buffer[] {
  const decoded = rheaMessage.decode(buffer) as { body?: unknown };
  const body = decoded.body as { typecode?: number; content?: unknown; multiple?: boolean } | undefined;
  if (!body || body.typecode !== SECTION.data) return [];
  const content = body.content;
  if (body.multiple && Array.isArray(content)) return content.filter((c): c is Buffer => Buffer.isBuffer(c));
  return Buffer.isBuffer(content) ? [content] : [];
}

export interface EncodeParts {
  durable: boolean;
  priority: number;
  ttlMs: number | undefined;
  deliveryCount: number;
  annotations: TypedEntries;
  applicationProperties: TypedEntries | undefined;
  propertiesRaw: Buffer;
  bodyRaw: Buffer;
}

const writeSection = (code: number, value: Typed): Buffer => {
  const writer = new codecTypes.Writer();
  writer.write(types.described(types.wrap_ulong(code), value) as Typed);
  return writer.toBuffer();
};

const entriesToTypedMap = (entries: TypedEntries, symbolic: boolean): Typed => {
  const obj: Record<string, Typed> = {};
  for (const [k, v] of entries) obj[k] = v;
  return symbolic ? types.wrap_symbolic_map(obj) : types.wrap_map(obj);
};

export function encodeMessage(parts: EncodeParts, extraAnnotations: Record<string, Typed>): Buffer {
  const header = types.wrap_list([
    types.wrap_boolean(parts.durable),
    types.wrap_ubyte(parts.priority),
    parts.ttlMs === undefined ? types.wrap(null) : types.wrap_uint(parts.ttlMs),
    types.wrap_boolean(parts.deliveryCount === 0),
    types.wrap_uint(parts.deliveryCount),
  ]);
  const annotations = new Map(parts.annotations);
  for (const [k, v] of Object.entries(extraAnnotations)) annotations.set(k, v);
  const chunks = [
    writeSection(SECTION.header, header),
    writeSection(SECTION.messageAnnotations, entriesToTypedMap(annotations, true)),
    parts.propertiesRaw,
  ];
  if (parts.applicationProperties && parts.applicationProperties.size > 0) {
    chunks.push(
      writeSection(SECTION.applicationProperties, entriesToTypedMap(parts.applicationProperties, false)),
    );
  }
  chunks.push(parts.bodyRaw);
  return Buffer.concat(chunks);
}

/** Service Bus reports lock-until times on attach as .NET ticks (100 ns since 0001-01-01). */
export function dateToTicksBuffer(ms: number): Buffer {
  const ticks = BigInt(ms) * 10_000n + 621_355_968_000_000_000n;
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(ticks);
  return b;
}

/** Sequence numbers arrive as numbers or 8-byte big-endian buffers depending on magnitude. */
export function toSequenceNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE());
  if (v && typeof v === 'object' && 'toNumber' in v && typeof v.toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  throw new Error(`not a sequence number: ${String(v)}`);
}

export { uuidToString };
