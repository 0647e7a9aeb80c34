import { CronExpressionParser } from 'cron-parser';
import { resolveSetting } from './binding-settings';
import { FunctionHost } from './function-host';

interface TimerState {
  name: string;
  schedule: string;
  last?: Date;
  timer?: NodeJS.Timeout;
}

/** Fires timer-triggered functions on their NCRONTAB schedules (seconds field included), in UTC. */
export class TimerDriver {
  private readonly timers: TimerState[] = [];
  private stopped = false;

  constructor(
    private readonly host: FunctionHost,
    private readonly env: Record<string, string | undefined>,
    private readonly onError: (name: string, error: unknown) => void,
  ) {}

  /** Registers every timer function; `arm: false` leaves firing to `tick` (tests). */
  start(options: { arm?: boolean } = {}): void {
    for (const { metadata } of this.host.registrations) {
      const { binding } = FunctionHost.trigger(metadata);
      if (binding.type !== 'timerTrigger') continue;
      const state: TimerState = {
        name: metadata.name,
        schedule: resolveSetting(binding.schedule, this.env, `schedule of ${metadata.name}`),
      };
      this.timers.push(state);
      if (options.arm === false) continue;
      if (binding.runOnStartup === true) void this.tick(state.name);
      this.arm(state);
    }
  }

  names(): string[] {
    return this.timers.map((t) => t.name);
  }

  next(name: string, from = new Date()): Date {
    const state = this.state(name);
    return CronExpressionParser.parse(state.schedule, { currentDate: from, tz: 'UTC' }).next().toDate();
  }

  /** Runs the function now, as the host does for an occurrence; tests call it instead of waiting. */
  async tick(name: string, isPastDue = false): Promise<void> {
    const state = this.state(name);
    const now = new Date();
    const info = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: (state.last ?? new Date(0)).toISOString(),
        Next: this.next(name, now).toISOString(),
        LastUpdated: now.toISOString(),
      },
      IsPastDue: isPastDue,
    };
    state.last = now;
    await this.host.invoke(name, { json: JSON.stringify(info) });
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.timers) clearTimeout(state.timer);
  }

  private state(name: string): TimerState {
    const state = this.timers.find((t) => t.name === name);
    if (state === undefined) throw new Error(`no timer function named ${name}`);
    return state;
  }

  private arm(state: TimerState): void {
    if (this.stopped) return;
    const delay = Math.max(0, this.next(state.name).getTime() - Date.now());
    state.timer = setTimeout(() => {
      this.tick(state.name)
        .catch((error: unknown) => this.onError(state.name, error))
        .finally(() => this.arm(state));
    }, delay);
    state.timer.unref();
  }
}
