import { useState } from 'preact/hooks';
import type { EntityStatus } from './api';
import { formatCompact, formatHour, formatNumber } from './format';
import { DataTable, SelectField } from './fields';

const HOUR_MS = 3_600_000;

interface Slot {
  hour: number;
  read: number;
  written: number;
}

/** The 24 hours up to the status's hour, oldest first; hours without runs are zero, not missing. */
export function hourlySlots(entities: readonly EntityStatus[], at: string): Slot[] {
  const end = Math.floor(Date.parse(at) / HOUR_MS) * HOUR_MS;
  const slots: Slot[] = [];
  for (let i = 23; i >= 0; i -= 1) slots.push({ hour: end - i * HOUR_MS, read: 0, written: 0 });
  for (const entity of entities) {
    for (const h of entity.throughput.hourly) {
      const hour = Date.parse(`${h.hour}:00:00Z`);
      const slot = slots.find((s) => s.hour === hour);
      if (slot === undefined) continue;
      slot.read += h.read;
      slot.written += h.written;
    }
  }
  return slots;
}

/** A round top for the axis: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (value <= 0) return 10;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value) ?? 10;
  return step * power;
}

const W = 960;
const H = 220;
const PAD = { left: 48, right: 8, top: 12, bottom: 28 };

/** Records read and written per hour over the last 24 hours, for all entities or one. */
export function ThroughputChart({ entities, at }: { entities: EntityStatus[]; at: string }) {
  const [which, setWhich] = useState('');
  const chosen = which === '' ? entities : entities.filter((e) => e.entity === which);
  const slots = hourlySlots(chosen, at);
  const totalRead = slots.reduce((n, s) => n + s.read, 0);
  const totalWritten = slots.reduce((n, s) => n + s.written, 0);
  const top = niceMax(Math.max(...slots.map((s) => Math.max(s.read, s.written))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const band = plotW / slots.length;
  const barW = Math.max(2, band / 2 - 2);
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const label = `${which === '' ? 'All entities' : which}: ${formatNumber(totalRead)} records read and ${formatNumber(totalWritten)} written in the last 24 hours`;

  return (
    <figure class="chart">
      <div class="row spread">
        <figcaption>
          <h2>Throughput, last 24 hours</h2>
          <span class="muted">
            {formatNumber(totalRead)} read · {formatNumber(totalWritten)} written
          </span>
        </figcaption>
        <SelectField
          label="Entity"
          layout="inline"
          value={which}
          options={[['', 'All entities'], ...entities.map((e) => [e.entity, e.entity] as const)]}
          onValue={setWhich}
        />
      </div>
      {totalRead + totalWritten === 0 ? (
        <p class="muted chart-empty">
          No records moved in the last 24 hours. Use “Sync now” on an entity to pull its changes.
        </p>
      ) : (
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
          {[0, 0.5, 1].map((f) => (
            <g key={f}>
              <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} />
              <text class="axis" x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end">
                {formatCompact(top * f)}
              </text>
            </g>
          ))}
          {slots.map((s, i) => {
            const x = PAD.left + i * band + 1;
            return (
              <g key={s.hour}>
                <title>{`${formatHour(s.hour)}: ${formatNumber(s.read)} read, ${formatNumber(s.written)} written`}</title>
                <rect
                  class="bar-read"
                  x={x}
                  y={y(s.read)}
                  width={barW}
                  height={Math.max(0, y(0) - y(s.read))}
                />
                <rect
                  class="bar-written"
                  x={x + barW + 1}
                  y={y(s.written)}
                  width={barW}
                  height={Math.max(0, y(0) - y(s.written))}
                />
                {i % 3 === 0 && (
                  <text class="axis" x={x + barW} y={H - 8} text-anchor="middle">
                    {formatHour(s.hour)}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      )}
      <div class="legend" aria-hidden="true">
        <span class="swatch bar-read" /> read from Dynamics <span class="swatch bar-written" /> written to
        Cosmos DB
      </div>
      <details>
        <summary>Show as a table</summary>
        <DataTable
          class="compact"
          columns={['Hour', { label: 'Read', class: 'num' }, { label: 'Written', class: 'num' }]}
        >
          {slots.map((s) => (
            <tr key={s.hour}>
              <td>{formatHour(s.hour)}</td>
              <td class="num">{formatNumber(s.read)}</td>
              <td class="num">{formatNumber(s.written)}</td>
            </tr>
          ))}
        </DataTable>
      </details>
    </figure>
  );
}
