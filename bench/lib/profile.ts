// `npm run bench -- --profile OP`: Latchkey under `node --cpu-prof` while OP runs, then the
// hottest frames of the measured window only (the profile's last seconds; minting the pools
// and the warm-up happen before it and are left out).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LoadResult } from '../load/jobs.js';
import type { BenchOptions } from './args.js';
import type { LatchkeyInstance } from './latchkey.js';
import type { LoadGenerator } from './proc.js';
import { OP_TITLES, toLoadJob, type OpName } from './targets.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: Latchkey's own file, a package, Node's internals, or V8's bookkeeping. */
function area(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native / V8)';
  const own = /\/dist\/(?!esm\/|cjs\/)(.+)$/.exec(url);
  if (own?.[1] && !/node_modules\/(?!\.cache\/)/.test(url)) return `latchkey:${own[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/.][^/]*)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

/** A frame's file, short: latchkey:oauth/grants/refresh-token.js, kysely/…/sqlite-driver.js, node:… */
function fileOf(url: string, fn: string): string {
  const a = area(url, fn);
  if (a.startsWith('latchkey:') || a.startsWith('node:') || a.startsWith('(')) return a;
  const rest = new RegExp(`node_modules/${a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(.+)$`).exec(url)?.[1];
  return rest ? `${a}/${rest.split('/').slice(-2).join('/')}` : a;
}

function frameName(n: CpuProfileNode): string {
  const f = n.callFrame;
  const where = f.url ? `${fileOf(f.url, f.functionName)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

export function summarizeProfile(profile: CpuProfile, windowMs: number, tailMs: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample times, then keep only the measured window: the windowMs before the last tailMs.
  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) {
    t += d;
    times.push(t);
  }
  const end = profile.endTime - tailMs * 1000;
  const start = end - windowMs * 1000;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const ts = times[i] ?? 0;
    if (ts < start || ts > end) return;
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (!node) return;
    total += dt;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    const a = area(node.callFrame.url, node.callFrame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    // Inclusive time for Latchkey's own functions (each counted once per stack).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n || !area(n.callFrame.url, n.callFrame.functionName).startsWith('latchkey:')) continue;
      const key = frameName(n);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  const pct = (v: number) => `${((v / Math.max(total, 1e-9)) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`profile window: ${(total / 1000).toFixed(1)} s of samples`, '', 'top frames by self time:'];
  for (const [name, v] of top(self, 25)) lines.push(`  ${pct(v)}  ${name}`);
  lines.push('', 'self time by where the code lives:');
  for (const [name, v] of top(areas, 15)) lines.push(`  ${pct(v)}  ${name}`);
  lines.push('', "Latchkey's own functions by inclusive time:");
  for (const [name, v] of top(inclusive, 20)) lines.push(`  ${pct(v)}  ${name}`);
  return `${lines.join('\n')}\n`;
}

export async function profileOperation(a: { o: BenchOptions; lg: LoadGenerator; inst: LatchkeyInstance; tmpDir: string; op: OpName; root: string }): Promise<string> {
  const { o, lg, inst, op } = a;
  const target = inst.target;
  const count = 15_000 * o.duration;
  process.stderr.write(`bench: profiling ${OP_TITLES[op]}: preparing …\n`);
  const warm = await target.job(op, Math.ceil(count / 4));
  await lg.run([toLoadJob(warm, 'profile:warmup', target.origin, o.connections, 2000)]);
  const shape = await target.job(op, count);
  process.stderr.write('bench: profiling: measuring …\n');
  const [result] = (await lg.run([toLoadJob(shape, 'profile', target.origin, o.connections, o.duration * 1000)])) as [LoadResult];
  const t0 = performance.now();
  await inst.server.stop();
  const tailMs = performance.now() - t0;
  const dir = join(a.tmpDir, 'profile');
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const head = `${OP_TITLES[op]} under --cpu-prof: ${result.rate.toFixed(0)}/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms (${result.ok} ok, ${result.non2xx} not 2xx)\nprofile: ${join(dir, file)} (kept)\n`;
  return head + summarizeProfile(profile, Math.min(result.elapsedMs, o.duration * 1000), tailMs + 50);
}
