/** Queue settings mirror the infrastructure: sessions and duplicate detection on pull-jobs. */
export const LOCAL_QUEUES = [
  {
    name: 'pull-jobs',
    requiresSession: true,
    maxDeliveryCount: 10,
    lockDurationMs: 5 * 60_000,
    duplicateDetectionWindowMs: 10 * 60_000,
  },
  { name: 'push-retry', requiresSession: false, maxDeliveryCount: 10, lockDurationMs: 60_000 },
];
