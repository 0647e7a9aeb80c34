// Numbers and times as a person reads them, in the browser's own locale.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const hourOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export const formatNumber = (n: number): string => integer.format(n);

/** 12,345 stays exact; larger numbers are shortened (1.2M) where space is short. */
export const formatCompact = (n: number): string =>
  Math.abs(n) < 100_000 ? integer.format(n) : compact.format(n);

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/** "3 min ago", "in 2 hr"; "now" within a few seconds. */
export function formatRelative(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((at - now) / 1000);
  if (Math.abs(seconds) < 5) return relative.format(0, 'second');
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second')
      return relative.format(Math.trunc(seconds / size), unit);
  }
  return relative.format(seconds, 'second');
}

export const formatDateTime = (iso: string): string => {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? iso : absolute.format(at);
};

/** A span such as a lag: "45 s", "3 min", "2 h 5 min", "3 d 4 h". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  if (s < 3_600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) {
    const minutes = Math.floor((s % 3_600) / 60);
    return `${Math.floor(s / 3_600)} h${minutes > 0 ? ` ${minutes} min` : ''}`;
  }
  const hours = Math.floor((s % 86_400) / 3_600);
  return `${Math.floor(s / 86_400)} d${hours > 0 ? ` ${hours} h` : ''}`;
}

/** The local hour of a UTC hour key (`YYYY-MM-DDTHH`), for chart labels. */
export const formatHour = (utcHour: number): string => hourOnly.format(utcHour);

/** "1 error", "3 errors". */
export const plural = (n: number, one: string, many = `${one}s`): string =>
  `${formatNumber(n)} ${n === 1 ? one : many}`;
