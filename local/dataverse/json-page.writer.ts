// Page buffers are kept for the next page once their response has left. With fresh 5-10 MB buffers
// per page, a simulator holding a million rows spent nearly half its busy time in the garbage
// collector; reusing them took a 500k range read from 25.8 s to 13-17 s (docs/initial-load.md).
const free: ArrayBuffer[] = [];
/** Bodies handed out and not yet released, by the very object handed out: a stale copy frees nothing. */
const lent = new WeakMap<Buffer, ArrayBuffer>();
/** As many as there can be pages in flight at once, and a few more. */
const POOL_SIZE = 16;
/** Small bodies cost V8 little and would only crowd the pool's places. */
const POOL_MIN_BYTES = 1024 * 1024;

function takeMemory(size: number): ArrayBuffer {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const candidate = free[i] as ArrayBuffer;
    if (
      candidate.byteLength >= size &&
      (best < 0 || candidate.byteLength < (free[best] as ArrayBuffer).byteLength)
    )
      best = i;
  }
  return best >= 0 ? (free.splice(best, 1)[0] as ArrayBuffer) : new ArrayBuffer(size);
}

function giveBack(memory: ArrayBuffer): void {
  if (memory.byteLength >= POOL_MIN_BYTES && free.length < POOL_SIZE) free.push(memory);
}

/**
 * Gives a page body's memory back once nothing reads it any more (its response has been sent).
 * Bodies that did not come from a page writer, or were released already, are left alone.
 */
export function releasePageBody(body: unknown): void {
  if (!Buffer.isBuffer(body)) return;
  const memory = lent.get(body);
  if (memory === undefined) return;
  lent.delete(body);
  giveBack(memory);
}

/**
 * Writes a page body (`{...head, "value": [rows], ...tail}`) straight into one UTF-8 buffer, one
 * row's JSON text at a time. A 5000-row page is ~7 MB of JSON; joining the rows into one string
 * and encoding that string again to send it took about as long as building the rows.
 */
export class JsonPageWriter {
  private buf: Buffer;
  private length = 0;
  private rows = 0;

  constructor(head: Record<string, unknown>, sizeHint = 64 * 1024) {
    this.buf = Buffer.from(takeMemory(Math.max(sizeHint, 1024)));
    const open = JSON.stringify(head).slice(0, -1);
    this.write(`${open}${open.length > 1 ? ',' : ''}"value":[`);
  }

  /** One element of `value`, already JSON text. */
  row(json: string): void {
    this.write(this.rows++ === 0 ? json : `,${json}`);
  }

  /** Closes `value`, adds the tail's defined properties in order, and returns the body. */
  end(tail: Record<string, unknown> = {}): Buffer {
    let close = ']';
    for (const [k, v] of Object.entries(tail))
      if (v !== undefined) close += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
    this.write(`${close}}`);
    const body = this.buf.subarray(0, this.length);
    lent.set(body, this.buf.buffer as ArrayBuffer);
    return body;
  }

  private write(text: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8, so this much room always suffices.
    const worst = text.length * 3;
    if (this.length + worst > this.buf.length) {
      const grown = Buffer.from(takeMemory(Math.max(this.buf.length * 2, this.length + worst)));
      this.buf.copy(grown, 0, 0, this.length);
      giveBack(this.buf.buffer as ArrayBuffer);
      this.buf = grown;
    }
    this.length += this.buf.write(text, this.length, 'utf8');
  }
}
