// Client ID metadata documents, fetched (oauth/client-id-document.ts has the rules): when the
// operator turns them on, a client lookup that finds nothing for a client_id that is an https
// URL fetches the document there (net/fetch-json.ts: https, public addresses, 3 s, 64 KiB, no
// redirects), and stores the client it describes (registration 'document'); from then on the
// stored row answers. A URL whose fetch or document failed is not fetched again for 30 s;
// concurrent lookups of one URL share one fetch; at most 8 document fetches run at once (any
// more are answered "no such client"), since anyone can name any URL as a client_id.
import type { Logger } from 'pino';
import { BoundedMap } from '../bounded-map.js';
import type { Clock } from '../oauth/clock.js';
import { nowSeconds } from '../oauth/clock.js';
import { clientFromDocument, isClientIdDocumentUrl } from '../oauth/client-id-document.js';
import type { Client } from '../oauth/model.js';
import type { ClientStore } from '../store/clients.js';

export const DOCUMENT_RETRY_SECONDS = 30;
export const MAX_DOCUMENT_FETCHES = 8;

export interface ClientIdDocumentsOptions {
  clock: Clock;
  fetch: (url: string) => Promise<unknown>;
  /** The scopes the server offers (read at each fetch). */
  scopes: () => readonly string[];
  logger?: Pick<Logger, 'warn'>;
  /** http://127.0.0.1 client_ids too (LATCHKEY_ALLOW_LOOPBACK_FETCH; the fetcher must allow loopback as well). */
  allowLoopback?: boolean;
}

export class ClientIdDocuments {
  private readonly pending = new Map<string, Promise<Client | undefined>>();
  private readonly failedAt = new BoundedMap<string, number>(1000);
  /** Documents fetched (tests count them). */
  fetches = 0;

  constructor(private readonly store: ClientStore, private readonly options: ClientIdDocumentsOptions) {}

  /** The client the document at `clientId` describes, stored; undefined when there is none to be had. */
  resolve(clientId: string): Promise<Client | undefined> {
    if (!isClientIdDocumentUrl(clientId, this.options.allowLoopback === true)) return Promise.resolve(undefined);
    const shared = this.pending.get(clientId);
    if (shared) return shared;
    const now = this.options.clock.nowMs();
    const failed = this.failedAt.get(clientId);
    if (failed !== undefined && now - failed < DOCUMENT_RETRY_SECONDS * 1000 && now >= failed) return Promise.resolve(undefined);
    if (this.pending.size >= MAX_DOCUMENT_FETCHES) return Promise.resolve(undefined);
    this.fetches += 1;
    const work = (async () => {
      try {
        const client = clientFromDocument(clientId, await this.options.fetch(clientId), this.options.scopes(), nowSeconds(this.options.clock), this.options.allowLoopback === true);
        try {
          return await this.store.insert(client);
        } catch (err) {
          // Another process (or lookup) stored it first.
          const stored = await this.store.findByClientId(clientId);
          if (stored) return stored;
          throw err;
        }
      } catch (err) {
        this.failedAt.set(clientId, this.options.clock.nowMs());
        this.options.logger?.warn({ event: 'client_document.refused', client_id: clientId, reason: (err as Error).message }, 'client ID metadata document refused');
        return undefined;
      } finally {
        this.pending.delete(clientId);
      }
    })();
    this.pending.set(clientId, work);
    return work;
  }
}

/** `store` whose findByClientId falls back to `documents` for a client_id it does not know. */
export function withClientIdDocuments(store: ClientStore, documents: ClientIdDocuments): ClientStore {
  const wrapped = Object.create(store) as ClientStore;
  Object.defineProperty(wrapped, 'findByClientId', {
    value: async (clientId: string): Promise<Client | undefined> => (await store.findByClientId(clientId)) ?? documents.resolve(clientId),
  });
  return wrapped;
}
