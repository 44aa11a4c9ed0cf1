// What the orchestrator asks the load generator to do, and what it gets back. Plain data:
// it crosses a process boundary.

export interface RequestTemplate {
  method: 'GET' | 'POST';
  /** May contain {v} (the next value) or, in a flow's second step, {code}. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export type LoadMode =
  /** The same request every time. */
  | 'static'
  /** {v} replaced by the values in turn, round robin (reusable values: access tokens). */
  | 'cycle'
  /** {v} replaced by each value exactly once (refresh tokens, codes); the run ends early if they run out. */
  | 'pool'
  /** A returning user's flow: `request` is the authorization request (302 with a code), `token` spends the code. */
  | 'flow';

export interface LoadJob {
  label: string;
  origin: string;
  connections: number;
  durationMs: number;
  /** Requests per second over all connections (open-loop); unlimited when absent. */
  overallRate?: number;
  mode: LoadMode;
  request: RequestTemplate;
  token?: RequestTemplate;
  /** One value per line (tokens, codes). */
  valuesFile?: string;
  /**
   * Keep the `refresh_token` of every successful answer and write them here, one a line: a
   * refresh run hands out as many live refresh tokens as it spends, and the next run (or the
   * revocation run) spends those instead of minting new ones.
   */
  harvestFile?: string;
}

export interface LoadResult {
  label: string;
  /** 2xx answers inside the measured window (for a flow: completed flows). */
  ok: number;
  /** Requests that failed inside the window: not 2xx, or (a flow's authorization step) no code. */
  non2xx: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  /** One answer that was not 2xx, for diagnosis. */
  sampleFailure?: { status: number; body: string };
  elapsedMs: number;
  /** ok per second. */
  rate: number;
  /** Latency of 2xx answers (for a flow: the whole flow), milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** The pool ran out before the duration was up (the rate is still ok/elapsed). */
  poolExhausted: boolean;
  /** CPU the load generator itself used, in percent of one core. */
  loadgenCpuPercent: number;
}

export interface WorkerRequest {
  id: number;
  jobs: LoadJob[];
}

export interface WorkerReply {
  id: number;
  results?: LoadResult[];
  error?: string;
}
