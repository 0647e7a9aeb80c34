export interface OutgoingMessage {
  body: unknown;
  messageId: string;
  sessionId?: string;
  correlationId?: string;
  subject?: string;
  /** Delivered no earlier than this time (Service Bus scheduled message). */
  scheduledAt?: Date;
}

/** The sending side of a queue: Service Bus in Azure and the local stack, in-process in the CLI. */
export interface JobQueue {
  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}
