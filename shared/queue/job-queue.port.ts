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

/**
 * Settlement of the one message a handler is processing, bound to it by the composition: the
 * Service Bus SDK binding's actions in Azure, the in-process queue's settle callbacks in the CLI.
 */
export interface MessageSettlement {
  complete(): Promise<void>;
  abandon(): Promise<void>;
  deadLetter(reason: string, description: string): Promise<void>;
}
