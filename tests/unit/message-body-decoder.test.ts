import { bodyExcerpt, decodeJsonBody } from '../../shared/queue/message-body.decoder';

describe('decoding a queue message body', () => {
  it('passes parsed values through and parses JSON text and bytes', () => {
    expect(decodeJsonBody({ kind: 'pull' })).toEqual({ ok: true, value: { kind: 'pull' } });
    expect(decodeJsonBody(null)).toEqual({ ok: true, value: null });
    expect(decodeJsonBody('{"kind":"pull"}')).toEqual({ ok: true, value: { kind: 'pull' } });
    expect(decodeJsonBody(Buffer.from('[1,2]'))).toEqual({ ok: true, value: [1, 2] });
    expect(decodeJsonBody(new Uint8Array(Buffer.from('"text"')))).toEqual({ ok: true, value: 'text' });
  });

  it('says what is not JSON without quoting it', () => {
    expect(decodeJsonBody('password=hunter2')).toEqual({
      ok: false,
      reason: '(body): not JSON (text of 16 characters)',
    });
    expect(decodeJsonBody(Buffer.from([0xff, 0x00, 0x7b]))).toEqual({
      ok: false,
      reason: '(body): not JSON (3 bytes)',
    });
  });

  it('makes a short printable excerpt of any body', () => {
    expect(bodyExcerpt(Buffer.from('not json'))).toBe('not json');
    expect(bodyExcerpt({ a: 1 })).toBe('{"a":1}');
    expect(bodyExcerpt('x'.repeat(400))).toHaveLength(300);
    expect(bodyExcerpt(undefined)).toBe('undefined');
  });
});
