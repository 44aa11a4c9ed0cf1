// The load generator: its own process (forked by the orchestrator, IPC for orders), autocannon
// with keep-alive connections. Jobs sent together run at the same time (the argon2 check).
// Only 2xx answers inside the measured window count; latency percentiles are exact (every
// answer's time is kept), not histogram buckets.
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon, { type AutocannonRequest } from 'autocannon';
import type { LoadJob, LoadResult, RequestTemplate, WorkerReply, WorkerRequest } from './jobs.js';

class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  summary(): { p50: number; p90: number; p99: number; max: number; mean: number } {
    if (this.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
    const s = this.data.slice(0, this.length).sort();
    const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
    let sum = 0;
    for (const v of s) sum += v;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] ?? 0, mean: sum / s.length };
  }
}

function fill(template: string, key: string, value: string): string {
  return template.split(key).join(value);
}

function render(t: RequestTemplate, key: string, value: string): AutocannonRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(t.headers)) headers[k] = fill(v, key, value);
  return {
    method: t.method,
    path: fill(t.path, key, value),
    headers,
    ...(t.body !== undefined ? { body: fill(t.body, key, value) } : {}),
  };
}

function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

function runJob(job: LoadJob): Promise<LoadResult> {
  const values = job.valuesFile ? readFileSync(job.valuesFile, 'utf8').split('\n').filter((l) => l !== '') : [];
  if ((job.mode === 'cycle' || job.mode === 'pool') && values.length === 0) throw new Error(`${job.label}: no values`);
  const latencies = new Samples();
  let measuring = true;
  let ok = 0;
  let failed = 0;
  let lastOk = 0;
  let sampleFailure: LoadResult['sampleFailure'];
  /** A request that did not do its job: not 2xx, or (a flow's first step) no code in the redirect. */
  const noteFailure = (status: number, body: string) => {
    if (measuring) failed++;
    if (!sampleFailure) sampleFailure = { status, body: body.slice(0, 300) };
  };
  const harvested: string[] = [];
  const harvest = job.harvestFile !== undefined;
  const check = (status: number, body: string) => {
    if (status < 200 || status >= 300) noteFailure(status, body);
    else if (harvest) {
      const m = /"refresh_token"\s*:\s*"([^"]+)"/.exec(body);
      if (m?.[1]) harvested.push(m[1]);
    }
  };

  let next = 0;
  let requests: AutocannonRequest[];
  let connections = job.connections;
  let amount: number | undefined;
  if (job.mode === 'static') {
    requests = [{ ...render(job.request, '{v}', ''), onResponse: check }];
  } else if (job.mode === 'cycle' || job.mode === 'pool') {
    if (job.mode === 'pool') {
      amount = values.length;
      connections = Math.max(1, Math.min(connections, values.length));
    }
    requests = [{
      method: job.request.method,
      setupRequest: () => render(job.request, '{v}', values[next++ % values.length] ?? ''),
      onResponse: check,
    }];
  } else {
    const token = job.token;
    if (!token) throw new Error(`${job.label}: a flow needs its token request`);
    requests = [
      {
        method: job.request.method,
        setupRequest: (_req, ctx) => {
          ctx.t0 = performance.now();
          return render(job.request, '{v}', String(next++));
        },
        onResponse: (status, body, ctx, headers) => {
          const location = header(headers, 'location');
          const code = location && status >= 300 && status < 400 ? new URL(location, 'http://x/').searchParams.get('code') : null;
          if (code) ctx.code = code;
          else noteFailure(status, body || `(no code; location ${location ?? 'none'})`);
        },
      },
      {
        method: token.method,
        setupRequest: (_req, ctx) => (typeof ctx.code === 'string' ? render(token, '{code}', encodeURIComponent(ctx.code)) : null),
        onResponse: (status, body, ctx) => {
          if (status !== 200) noteFailure(status, body);
          else if (measuring && typeof ctx.t0 === 'number') {
            ok++;
            lastOk = performance.now();
            latencies.push(lastOk - ctx.t0);
          }
        },
      },
    ];
  }

  return new Promise((resolve, reject) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let tEnd = 0;
    const instance = autocannon({
      url: job.origin,
      connections,
      ...(amount !== undefined ? { amount } : { duration: Math.ceil(job.durationMs / 1000) + 5 }),
      ...(job.overallRate ? { overallRate: job.overallRate } : {}),
      pipelining: 1,
      timeout: 30,
      sampleInt: 100,
      requests,
    }, (err, result) => {
      clearTimeout(timer);
      if (err) {
        reject(err);
        return;
      }
      if (job.harvestFile !== undefined) writeFileSync(job.harvestFile, harvested.length ? `${harvested.join('\n')}\n` : '');
      const poolExhausted = tEnd === 0;
      if (poolExhausted) tEnd = lastOk || performance.now();
      const cpu = process.cpuUsage(cpu0);
      const elapsedMs = Math.max(1, tEnd - t0);
      const statuses: Record<string, number> = {};
      for (const [code, v] of Object.entries(result.statusCodeStats)) statuses[code] = v.count;
      resolve({
        label: job.label,
        ok,
        // Failed requests as judged above (a flow's 302 is a success), not autocannon's non-2xx.
        non2xx: failed,
        errors: result.errors,
        timeouts: result.timeouts,
        statuses,
        ...(sampleFailure ? { sampleFailure } : {}),
        elapsedMs,
        rate: (ok * 1000) / elapsedMs,
        ...latencies.summary(),
        poolExhausted,
        loadgenCpuPercent: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100,
      });
    });
    if (job.mode !== 'flow') {
      instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
        if (!measuring || status < 200 || status >= 300) return;
        ok++;
        lastOk = performance.now();
        latencies.push(responseTime);
      });
    }
    const timer = setTimeout(() => {
      measuring = false;
      tEnd = performance.now();
      instance.stop();
    }, job.durationMs);
  });
}

process.on('message', (raw: unknown) => {
  const msg = raw as WorkerRequest;
  Promise.all(msg.jobs.map(runJob)).then(
    (results) => process.send?.({ id: msg.id, results } satisfies WorkerReply),
    (err: unknown) => process.send?.({ id: msg.id, error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies WorkerReply),
  );
});
process.on('disconnect', () => process.exit(0));
