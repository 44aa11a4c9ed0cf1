// A graceful stop for `latchkey serve` (one process or each worker of --workers N): no new
// connection is taken, idle keep-alive connections close, and every request already being
// answered finishes — its answer says `Connection: close` — before the server closes.
// (Fastify's own close, with forceCloseConnections, would cut those requests off.)
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { DRAIN_MS } from '../cluster/ipc.js';

export class InFlight {
  private readonly open = new Set<ServerResponse>();
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(private readonly server: Server) {
    // Before Fastify's own listener, so a request answered at once is still seen.
    server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
      if (this.draining) response.setHeader('Connection', 'close');
      this.open.add(response);
      response.once('close', () => {
        this.open.delete(response);
        if (this.draining && this.open.size === 0) this.drained?.();
      });
    });
  }

  /** Requests being answered now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Stops taking connections (Node then closes the idle ones), marks every answer not yet
   * begun `Connection: close`, and resolves when the last request under way has its answer,
   * or after `deadlineMs`.
   */
  drain(deadlineMs = DRAIN_MS): Promise<void> {
    this.draining = true;
    this.server.close();
    for (const response of this.open) if (!response.headersSent) response.setHeader('Connection', 'close');
    if (this.open.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      timer.unref();
      this.drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
