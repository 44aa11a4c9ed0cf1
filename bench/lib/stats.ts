// Medians and the per-operation summary the report is made of.
import type { LoadResult } from '../load/jobs.js';
import type { ProcUsage } from './proc.js';

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export interface RunRecord {
  participant: string;
  op: string;
  round: number;
  result: LoadResult;
  usage: ProcUsage;
  valid: boolean;
  problem?: string;
}

export interface Summary {
  participant: string;
  op: string;
  status: 'ok' | 'n/a' | 'failed';
  /** Why n/a or failed. */
  reason?: string;
  runs: number;
  rate: number;
  p50: number;
  p99: number;
  cpuPercent: number;
  /** Server CPU milliseconds per successful request. */
  cpuMsPerOp: number;
  peakRssMb: number;
  /** The anonymous part of it (no file-backed pages). */
  peakAnonMb: number;
}

/** A run counts when it got answers and at most 1% of them failed. */
export function judge(result: LoadResult): { valid: boolean; problem?: string } {
  const failures = result.non2xx + result.errors;
  if (result.ok === 0) {
    const f = result.sampleFailure;
    return { valid: false, problem: `no successful answers${f ? ` (e.g. ${f.status} ${f.body.replace(/\s+/g, ' ').slice(0, 160)})` : result.errors ? ` (${result.errors} connection errors)` : ''}` };
  }
  if (failures > Math.max(5, result.ok * 0.01)) {
    const f = result.sampleFailure;
    return { valid: false, problem: `${failures} failed answers of ${result.ok + failures}${f ? ` (e.g. ${f.status} ${f.body.replace(/\s+/g, ' ').slice(0, 160)})` : ''}` };
  }
  return { valid: true };
}

export function summarize(participant: string, op: string, runs: RunRecord[]): Summary {
  const valid = runs.filter((r) => r.valid);
  if (valid.length === 0) {
    return { participant, op, status: 'failed', reason: runs[0]?.problem ?? 'no runs', runs: 0, rate: NaN, p50: NaN, p99: NaN, cpuPercent: NaN, cpuMsPerOp: NaN, peakRssMb: NaN, peakAnonMb: NaN };
  }
  return {
    participant,
    op,
    status: 'ok',
    runs: valid.length,
    rate: median(valid.map((r) => r.result.rate)),
    p50: median(valid.map((r) => r.result.p50)),
    p99: median(valid.map((r) => r.result.p99)),
    cpuPercent: median(valid.map((r) => r.usage.cpuPercent)),
    cpuMsPerOp: median(valid.map((r) => (r.usage.cpuSeconds * 1000) / Math.max(1, r.result.ok))),
    peakRssMb: Math.max(...valid.map((r) => r.usage.peakRssBytes)) / (1024 * 1024),
    peakAnonMb: Math.max(...valid.map((r) => r.usage.peakAnonBytes)) / (1024 * 1024),
  };
}

export function unavailable(participant: string, op: string, reason: string, status: 'n/a' | 'failed' = 'n/a'): Summary {
  return { participant, op, status, reason, runs: 0, rate: NaN, p50: NaN, p99: NaN, cpuPercent: NaN, cpuMsPerOp: NaN, peakRssMb: NaN, peakAnonMb: NaN };
}
