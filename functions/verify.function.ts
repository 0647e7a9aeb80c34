import { app, type InvocationContext, type Timer } from '@azure/functions';
import { enqueueVerify } from '../shared/app/verify.composition';
import { loadEnv } from '../shared/config/env.schema';
import { logOf, services, telemetry } from './app.services';

const { VERIFY_SCHEDULE } = loadEnv(process.env, ['sync']);

/** The scheduled verify (drift audit): one verify job per synced entity, run by the puller. */
export async function verifySchedule(timer: Timer, context: InvocationContext): Promise<void> {
  const s = await services();
  const log = logOf(context);
  // The slot is the occurrence the tick belongs to, to the minute: a doubled tick repeats the message ids.
  const slot = `${new Date().toISOString().slice(0, 16)}:00.000Z`;
  await telemetry.operation(
    {
      name: 'verify schedule',
      correlationId: context.invocationId,
      traceParent: context.traceContext?.traceParent ?? null,
    },
    async () => {
      const jobs = await enqueueVerify(s, { reason: 'schedule', slot });
      log.info('scheduled verify jobs', { entities: jobs.map((j) => j.entity), pastDue: timer.isPastDue });
    },
  );
}

app.timer('verify', { schedule: VERIFY_SCHEDULE, handler: verifySchedule });
