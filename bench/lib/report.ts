// The bench's results: a table on stdout, the targets with PASS/MISS, JSON under
// bench/results/ (timestamped, and latest.json), and latest.svg, a bar chart written by hand
// with the machine, versions and date beside it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { SECTIONS } from './args.js';
import { OPENID_OPS, OPS, OP_TITLES, PASSWORD_CONNECTIONS, TOKEN_ENDPOINT_OPS, type OpName } from './targets.js';
import { median, type Summary } from './stats.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  latchkey: string;
  commit: string;
  peer: string;
  autocannon: string;
  /** 1-minute load averages when the run started and ended: other work on the machine. */
  loadAverage?: { start: number; end: number };
}

export interface RunJson {
  participant: string;
  op: string;
  round: number;
  valid: boolean;
  problem?: string;
  rate: number;
  ok: number;
  non2xx: number;
  errors: number;
  statuses: Record<string, number>;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  elapsedMs: number;
  poolExhausted: boolean;
  serverCpuPercent: number;
  serverCpuSeconds: number;
  serverPeakRssMb: number;
  serverPeakAnonMb: number;
  loadgenCpuPercent: number;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  options: { compare?: string; workers?: number; besideSqlite?: boolean; quick: boolean; database: string; connections: number; durationSeconds: number; runs: number; warmupSeconds: number; ops: string[]; sections: string[] };
  machine: MachineInfo;
  summaries: Summary[];
  runs: RunJson[];
  startup: { coldMs?: number; coldRunsMs?: number[]; warmMs?: number; peerMs?: number; ceilingMs?: number };
  growth?: {
    grants: number;
    liveTokens: number;
    fillSeconds: number;
    fullStartMs: number;
    ops: Record<string, { empty: number; full: number; ratio: number; emptyP99: number; fullP99: number; reason?: string }>;
    reason?: string;
  };
  argon2?: { rate: number; aloneP99: number; withPasswordP99: number; ratio: number; passwordRate: number; reason?: string };
  targets?: TargetResult[];
}

export interface TargetResult {
  target: string;
  verdict: 'PASS' | 'MISS' | 'n/a';
  detail: string;
}

function readVersion(path: string): string {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

export async function machineInfo(root: string): Promise<MachineInfo> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    if (dirty) commit += '+uncommitted src changes';
  } catch {
    // not a git checkout
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    latchkey: readVersion(join(root, 'package.json')),
    commit,
    peer: readVersion(join(root, 'node_modules', 'oidc-provider', 'package.json')),
    autocannon: readVersion(join(root, 'node_modules', 'autocannon', 'package.json')),
  };
}

// ---- figures ----------------------------------------------------------------------------

function find(report: BenchReport, participant: string, op: string): Summary | undefined {
  return report.summaries.find((s) => s.participant === participant && s.op === op);
}

/** The ceiling's figure for one request shape, the median over every run of it. */
function ceiling(report: BenchReport, kind: 'get' | 'post'): number {
  const runs = report.runs.filter((r) => r.participant === `ceiling-${kind}` && r.valid);
  return runs.length ? median(runs.map((r) => r.rate)) : NaN;
}

function ceilingKind(op: OpName): 'get' | 'post' | undefined {
  if (op === 'user_opaque' || op === 'user_jwt' || op === 'userinfo_openid') return 'get';
  if (op === 'flow' || op === 'password') return undefined;
  return 'post';
}

const ok = (s: Summary | undefined): s is Summary & { status: 'ok' } => s?.status === 'ok';

export function evaluateTargets(report: BenchReport): TargetResult[] {
  const out: TargetResult[] = [];
  const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  const againstPeer: Array<readonly [OpName, number]> = [
    ...(['refresh', 'code', 'client_credentials', 'introspect', 'user_opaque'] as const).map((op) => [op, 2] as const),
    ...OPENID_OPS.map((op) => [op, 1.5] as const),
  ];
  for (const [op, min] of againstPeer) {
    if (!report.options.ops.includes(op)) continue;
    const ours = find(report, 'latchkey', op);
    const peer = find(report, 'peer', op);
    const name = `${OP_TITLES[op]} ≥ ${min}× node-oidc-provider`;
    if (!ok(ours) || !ok(peer)) out.push({ target: name, verdict: 'n/a', detail: ours?.reason ?? peer?.reason ?? 'not measured' });
    else {
      const r = ours.rate / peer.rate;
      out.push({ target: name, verdict: r >= min ? 'PASS' : 'MISS', detail: `${fmt(r)}× (${Math.round(ours.rate)} vs ${Math.round(peer.rate)}/s)` });
    }
  }
  for (const [op, min] of [['user_opaque', 0.5], ['user_jwt', 0.6]] as const) {
    if (!report.options.ops.includes(op)) continue;
    const ours = find(report, 'latchkey', op);
    const c = ceiling(report, 'get');
    const name = `${OP_TITLES[op]} ≥ ${min}× bare node:http`;
    if (!ok(ours) || !Number.isFinite(c)) out.push({ target: name, verdict: 'n/a', detail: ours?.reason ?? 'not measured' });
    else {
      const r = ours.rate / c;
      out.push({ target: name, verdict: r >= min ? 'PASS' : 'MISS', detail: `${fmt(r)}× (${Math.round(ours.rate)} vs ${Math.round(c)}/s)` });
    }
  }
  for (const op of OPS) {
    if (!TOKEN_ENDPOINT_OPS.has(op) || !report.options.ops.includes(op)) continue;
    const ours = find(report, 'latchkey', op);
    const name = `${OP_TITLES[op]} p99 ≤ 10 ms at ${report.options.connections} connections`;
    if (!ok(ours)) out.push({ target: name, verdict: 'n/a', detail: ours?.reason ?? 'not measured' });
    else {
      const note = op === 'password' ? ' (argon2id per request: by design far above 10 ms under 50 concurrent requests)' : '';
      out.push({ target: name, verdict: ours.p99 <= 10 ? 'PASS' : 'MISS', detail: `p99 ${fmt(ours.p99)} ms${note}` });
    }
  }
  if (report.growth) {
    const g = report.growth;
    for (const op of ['refresh', 'user_opaque'] as const) {
      const name = `${OP_TITLES[op]} with ${g.liveTokens.toLocaleString('en')} live tokens ≥ 0.8× empty`;
      const f = g.ops[op];
      if (!f || !Number.isFinite(f.ratio)) out.push({ target: name, verdict: 'n/a', detail: f?.reason ?? g.reason ?? 'not measured' });
      else out.push({ target: name, verdict: f.ratio >= 0.8 ? 'PASS' : 'MISS', detail: `${fmt(f.ratio)}× (${Math.round(f.full)} vs ${Math.round(f.empty)}/s)` });
    }
  }
  if (report.argon2) {
    const a = report.argon2;
    const name = '/api/user p99 with password grants alongside ≤ 2× alone';
    if (!Number.isFinite(a.ratio)) out.push({ target: name, verdict: 'n/a', detail: a.reason ?? 'not measured' });
    else out.push({ target: name, verdict: a.ratio <= 2 ? 'PASS' : 'MISS', detail: `${fmt(a.ratio)}× (${fmt(a.withPasswordP99)} vs ${fmt(a.aloneP99)} ms at ${a.rate}/s)${a.reason ? `; ${a.reason}` : ''}` });
  }
  {
    const ours = report.runs.filter((r) => r.participant.startsWith('latchkey') && r.valid);
    const name = 'server RSS under load ≤ 150 MB';
    if (ours.length === 0) out.push({ target: name, verdict: 'n/a', detail: 'no Latchkey runs' });
    else {
      const worst = ours.reduce((a, b) => (b.serverPeakRssMb > a.serverPeakRssMb ? b : a));
      const anon = Math.max(...ours.map((r) => r.serverPeakAnonMb ?? 0));
      const others = ours.filter((r) => r.op !== 'password');
      const worstOther = others.length ? others.reduce((a, b) => (b.serverPeakRssMb > a.serverPeakRssMb ? b : a)) : undefined;
      const detail = `peak ${worst.serverPeakRssMb.toFixed(0)} MB (${worst.participant}, ${worst.op}); anonymous memory alone peaked at ${anon.toFixed(0)} MB`
        + (worstOther && worst.op === 'password' ? `; without the password grant: ${worstOther.serverPeakRssMb.toFixed(0)} MB (${worstOther.op})` : '');
      out.push({ target: name, verdict: worst.serverPeakRssMb <= 150 ? 'PASS' : 'MISS', detail });
    }
  }
  {
    const name = 'start to /readyz ≤ 1 s';
    const ms = report.startup.coldMs ?? report.startup.warmMs;
    if (ms === undefined) out.push({ target: name, verdict: 'n/a', detail: 'not measured' });
    else out.push({ target: name, verdict: ms <= 1000 ? 'PASS' : 'MISS', detail: `${ms.toFixed(0)} ms${report.startup.coldMs !== undefined ? ' (median of 3 starts on an empty database, migrations included)' : ''}` });
  }
  return out;
}

// ---- the table ----------------------------------------------------------------------------

const num = (n: number | undefined, digits = 0) => (n === undefined || !Number.isFinite(n) ? '–' : n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
/** Milliseconds: two decimals below 100, none above (no thousands separators to misread). */
const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n < 100 ? n.toFixed(2) : n.toFixed(0));
const pad = (s: string, w: number) => (s.length >= w ? s : ' '.repeat(w - s.length) + s);
const padEnd = (s: string, w: number) => (s.length >= w ? s : s + ' '.repeat(w - s.length));

function header(report: BenchReport): string[] {
  const m = report.machine;
  const o = report.options;
  return [
    `Latchkey bench — ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${o.database} · ${o.connections} connections · ${o.runs} × ${o.durationSeconds} s per server and operation, medians${o.quick ? ' (--quick)' : ''}`,
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel} · Node ${m.node} · Latchkey ${m.latchkey} (${m.commit}) · node-oidc-provider ${m.peer} · autocannon ${m.autocannon}`,
    ...(m.loadAverage ? [`load average (1 min) at start ${m.loadAverage.start.toFixed(1)}, at end ${m.loadAverage.end.toFixed(1)} on ${m.cores} cores${Math.max(m.loadAverage.start, m.loadAverage.end) > m.cores ? ' — other work shared the machine: rates are noisy, CPU per request less so' : ''}`] : []),
  ];
}

export function renderTable(report: BenchReport, targets: TargetResult[]): string {
  const lines: string[] = ['', ...header(report), ''];
  const cg = ceiling(report, 'get');
  const cp = ceiling(report, 'post');
  const head = `${padEnd('operation', 36)}│${pad('Latchkey/s', 11)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('CPU%', 6)}${pad('ms/op', 7)}${pad('RSS MB', 8)} │${pad('peer/s', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('ms/op', 7)} │${pad('ceiling/s', 10)} │${pad('×peer', 7)}${pad('×ceil', 7)}${pad('CPU×', 6)}`;
  lines.push(head, '─'.repeat(head.length));
  for (const op of OPS) {
    if (!report.options.ops.includes(op)) continue;
    const ours = find(report, 'latchkey', op);
    const peer = find(report, 'peer', op);
    const kind = ceilingKind(op);
    const c = kind === 'get' ? cg : kind === 'post' ? cp : NaN;
    let row = padEnd(OP_TITLES[op], 36) + '│';
    if (ok(ours)) {
      row += pad(num(ours.rate), 11) + pad(ms(ours.p50), 8) + pad(ms(ours.p99), 8) + pad(num(ours.cpuPercent), 6) + pad(num(ours.cpuMsPerOp, 3), 7) + pad(num(ours.peakRssMb), 8);
    } else {
      row += padEnd(`  ${ours?.status === 'n/a' ? 'n/a' : 'FAILED'} (${(ours?.reason ?? 'not run').slice(0, 40)})`, 48);
    }
    row += ' │';
    if (ok(peer)) row += pad(num(peer.rate), 8) + pad(ms(peer.p50), 8) + pad(ms(peer.p99), 8) + pad(num(peer.cpuMsPerOp, 3), 7);
    else row += pad(peer ? 'n/a' : '–', 8) + pad('', 23);
    row += ' │' + pad(num(c), 10) + ' │';
    row += pad(ok(ours) && ok(peer) ? `${(ours.rate / peer.rate).toFixed(2)}` : '–', 7);
    row += pad(ok(ours) && Number.isFinite(c) ? `${(ours.rate / c).toFixed(2)}` : '–', 7);
    row += pad(ok(ours) && ok(peer) ? `${(peer.cpuMsPerOp / ours.cpuMsPerOp).toFixed(2)}` : '–', 6);
    lines.push(row);
  }
  if (report.options.compare) {
    lines.push('', `compared with the build in ${report.options.compare} (interleaved, same runs):`);
    for (const op of OPS) {
      const ours = find(report, 'latchkey', op);
      const other = find(report, 'compare', op);
      if (!other) continue;
      const ratio = ok(ours) && ok(other) ? (ours.rate / other.rate).toFixed(2) : '–';
      const cpu = ok(ours) && ok(other) ? (ours.cpuMsPerOp / other.cpuMsPerOp).toFixed(2) : '–';
      lines.push(`  ${padEnd(OP_TITLES[op], 34)} Latchkey ${pad(ok(ours) ? num(ours.rate) : ours?.status ?? '–', 7)}/s p99 ${pad(ok(ours) ? ms(ours.p99) : '–', 6)} ms ${pad(ok(ours) ? num(ours.cpuMsPerOp, 3) : '–', 6)} CPU ms/op · compare ${pad(ok(other) ? num(other.rate) : other.status, 7)}/s p99 ${pad(ok(other) ? ms(other.p99) : '–', 6)} ms ${pad(ok(other) ? num(other.cpuMsPerOp, 3) : '–', 6)} CPU ms/op · rate ×${ratio}, CPU/op ×${cpu}`);
    }
  }
  if (report.options.workers) {
    const n = report.options.workers;
    lines.push('', `serve --workers ${n} beside one process (interleaved, same runs; CPU summed over the primary and every worker):`);
    for (const op of OPS) {
      const one = find(report, 'latchkey', op);
      const several = find(report, 'workers', op);
      if (!several) continue;
      const ratio = ok(one) && ok(several) ? (several.rate / one.rate).toFixed(2) : '–';
      const cpu = ok(one) && ok(several) ? (several.cpuMsPerOp / one.cpuMsPerOp).toFixed(2) : '–';
      lines.push(`  ${padEnd(OP_TITLES[op], 34)} 1 process ${pad(ok(one) ? num(one.rate) : one?.status ?? '–', 7)}/s p99 ${pad(ok(one) ? ms(one.p99) : '–', 6)} ms ${pad(ok(one) ? num(one.cpuMsPerOp, 3) : '–', 6)} CPU ms/op · ${n} workers ${pad(ok(several) ? num(several.rate) : several.status, 7)}/s p99 ${pad(ok(several) ? ms(several.p99) : '–', 6)} ms ${pad(ok(several) ? num(several.cpuMsPerOp, 3) : '–', 6)} CPU ms/op ${pad(ok(several) ? num(several.cpuPercent) : '–', 4)}% CPU · rate ×${ratio}, CPU/op ×${cpu}`);
    }
  }
  if (report.options.besideSqlite) {
    lines.push('', 'PostgreSQL beside SQLite, the same build (interleaved, same runs); targets: rate ≥ 0.5× SQLite\'s, CPU per request ≤ 1.5× SQLite\'s, p50 ≤ 3 ms:');
    for (const op of OPS) {
      const pg = find(report, 'latchkey', op);
      const lite = find(report, 'sqlite', op);
      if (!lite) continue;
      if (!ok(pg) || !ok(lite)) {
        lines.push(`  ${padEnd(OP_TITLES[op], 34)} PostgreSQL ${pg?.status ?? '–'} · SQLite ${lite.status}`);
        continue;
      }
      const rate = pg.rate / lite.rate;
      const cpu = pg.cpuMsPerOp / lite.cpuMsPerOp;
      const verdict = rate >= 0.5 && cpu <= 1.5 && pg.p50 <= 3 ? 'PASS' : 'MISS';
      lines.push(`  ${padEnd(OP_TITLES[op], 34)} PostgreSQL ${pad(num(pg.rate), 7)}/s p50 ${pad(ms(pg.p50), 5)} ms ${pad(num(pg.cpuMsPerOp, 3), 6)} CPU ms/op · SQLite ${pad(num(lite.rate), 7)}/s p50 ${pad(ms(lite.p50), 5)} ms ${pad(num(lite.cpuMsPerOp, 3), 6)} CPU ms/op · rate ×${rate.toFixed(2)}, CPU/op ×${cpu.toFixed(2)} ${verdict}`);
    }
  }
  const failures = report.summaries.filter((s) => s.participant === 'latchkey' && s.status !== 'ok');
  for (const f of failures) lines.push(`  ${OP_TITLES[f.op as OpName] ?? f.op}: ${f.status === 'n/a' ? 'n/a' : 'FAILED'} — ${f.reason ?? ''}`);
  lines.push('  Latchkey/s and peer/s: successful requests a second (a flow = authorize + token); latency per request (a flow: both steps);');
  lines.push('  CPU%: the server process (100 = one core); ms/op: server CPU milliseconds per request; ceiling: bare node:http answering the same request shape;');
  lines.push('  ×peer, ×ceil: Latchkey\'s rate over theirs; CPU×: the peer\'s CPU per request over Latchkey\'s (above 1: Latchkey does the work with less CPU;');
  lines.push('  steadier than rates when other work shares the machine).');

  if (report.growth) {
    const g = report.growth;
    lines.push('', `growth: ${g.grants.toLocaleString('en')} grants = ${g.liveTokens.toLocaleString('en')} live tokens (${g.grants.toLocaleString('en')} access + ${g.grants.toLocaleString('en')} refresh) inserted in ${num(g.fillSeconds, 1)} s; start to /readyz with them ${num(g.fullStartMs)} ms`);
    if (g.reason) lines.push(`  n/a — ${g.reason}`);
    for (const [op, f] of Object.entries(g.ops)) {
      lines.push(`  ${padEnd(OP_TITLES[op as OpName] ?? op, 34)} empty ${pad(num(f.empty), 7)}/s (p99 ${num(f.emptyP99, 2)} ms)   full ${pad(num(f.full), 7)}/s (p99 ${num(f.fullP99, 2)} ms)   ratio ${Number.isFinite(f.ratio) ? f.ratio.toFixed(2) : 'n/a'}${f.reason ? ` — ${f.reason}` : ''}`);
    }
  }
  if (report.argon2) {
    const a = report.argon2;
    lines.push('', `argon2 off the event loop: /api/user at ${a.rate}/s (10 connections) p99 alone ${num(a.aloneP99, 2)} ms · with ${PASSWORD_CONNECTIONS} connections of password grants alongside ${num(a.withPasswordP99, 2)} ms (${Number.isFinite(a.ratio) ? a.ratio.toFixed(2) : 'n/a'}×; password grants ${num(a.passwordRate)}/s)${a.reason ? ` — ${a.reason}` : ''}`);
  }
  const s = report.startup;
  lines.push('', `start to /readyz: Latchkey ${num(s.coldMs)} ms on an empty database (migrations; median of ${s.coldRunsMs?.map((t) => num(t)).join(', ') ?? '–'}), ${num(s.warmMs)} ms on a migrated one · node-oidc-provider ${num(s.peerMs)} ms · bare node:http ${num(s.ceilingMs)} ms`);
  lines.push('', 'targets:');
  for (const t of targets) lines.push(`  ${padEnd(t.verdict, 5)} ${t.target}: ${t.detail}`);
  lines.push('');
  return lines.join('\n');
}

// ---- the chart ------------------------------------------------------------------------------

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(report: BenchReport): string {
  const cg = ceiling(report, 'get');
  const cp = ceiling(report, 'post');
  const rows = OPS.filter((op) => report.options.ops.includes(op)).map((op) => {
    const ours = find(report, 'latchkey', op);
    const peer = find(report, 'peer', op);
    const kind = ceilingKind(op);
    return {
      op,
      bars: [
        { who: 'Latchkey', value: ok(ours) ? ours.rate : NaN, color: '#2563eb', note: ok(ours) ? '' : ours?.status === 'n/a' ? 'n/a' : 'failed' },
        { who: 'node-oidc-provider', value: ok(peer) ? peer.rate : NaN, color: '#9ca3af', note: peer ? (ok(peer) ? '' : 'n/a') : 'no equivalent' },
        { who: 'bare node:http', value: kind === 'get' ? cg : kind === 'post' ? cp : NaN, color: '#e5e7eb', note: kind ? '' : '–' },
      ],
    };
  });
  const max = Math.max(1, ...rows.flatMap((r) => r.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))));
  const left = 250;
  const barMax = 520;
  const barH = 13;
  const groupH = barH * 3 + 16;
  const top = 78;
  const sideX = left + barMax + 110;
  const width = sideX + 300;
  const height = Math.max(top + rows.length * groupH + 40, 420);
  const m = report.machine;
  const o = report.options;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="16" y="28" font-size="18" font-weight="600" fill="#111827">Latchkey vs node-oidc-provider vs bare node:http — requests per second</text>`);
  out.push(`<text x="16" y="48" fill="#4b5563">${esc(`${o.connections} keep-alive connections, load generator on the same machine, median of ${o.runs} × ${o.durationSeconds} s; every token written durably (${o.database}); higher is better`)}</text>`);
  // Legend
  const legend = [['Latchkey', '#2563eb'], ['node-oidc-provider (in-memory)', '#9ca3af'], ['bare node:http (ceiling)', '#e5e7eb']] as const;
  legend.forEach(([name, color], i) => {
    const x = left + i * 215;
    out.push(`<rect x="${x}" y="58" width="12" height="12" fill="${color}" stroke="#6b7280" stroke-width="0.5"/><text x="${x + 17}" y="68" fill="#374151">${esc(name)}</text>`);
  });
  rows.forEach((row, i) => {
    const y0 = top + i * groupH;
    out.push(`<text x="${left - 10}" y="${y0 + barH * 1.5 + 4}" text-anchor="end" fill="#111827">${esc(OP_TITLES[row.op])}</text>`);
    row.bars.forEach((b, j) => {
      const y = y0 + j * barH;
      const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max) * barMax) : 0;
      if (w > 0) out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${b.color}" stroke="#6b7280" stroke-width="0.3"><title>${esc(`${b.who}: ${Math.round(b.value)}/s`)}</title></rect>`);
      const label = Number.isFinite(b.value) ? Math.round(b.value).toLocaleString('en') : b.note;
      if (label) out.push(`<text x="${left + w + 5}" y="${y + barH - 3}" font-size="10" fill="#374151">${esc(label)}</text>`);
    });
  });
  const axisY = top + rows.length * groupH;
  out.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${axisY}" stroke="#9ca3af"/>`);
  // Side panel: machine, versions, date, targets.
  const side = [
    'Machine',
    `${m.cpuModel}`,
    `${m.cores} cores, ${m.memoryGiB} GiB RAM`,
    `Linux ${m.kernel}`,
    '',
    'Versions',
    `Node ${m.node}`,
    `Latchkey ${m.latchkey} (${m.commit})`,
    `node-oidc-provider ${m.peer}`,
    `autocannon ${m.autocannon}`,
    '',
    `Date: ${report.startedAt.slice(0, 10)}`,
    '',
    'Targets',
    ...(report.targets ?? []).map((t) => `${t.verdict} ${t.target}`),
  ];
  let sy = top + 4;
  for (const line of side) {
    const bold = ['Machine', 'Versions', 'Targets'].includes(line);
    const color = line.startsWith('PASS') ? '#15803d' : line.startsWith('MISS') ? '#b91c1c' : '#374151';
    out.push(`<text x="${sideX}" y="${sy}" font-size="${bold ? 12 : 10.5}"${bold ? ' font-weight="600"' : ''} fill="${color}">${esc(line.length > 58 ? `${line.slice(0, 57)}…` : line)}</text>`);
    sy += line === '' ? 6 : 14;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Evaluates the targets, writes the JSON and SVG files, and returns the text for stdout. */
export function writeReport(report: BenchReport, dir: string): string {
  const targets = evaluateTargets(report);
  report.targets = targets;
  const stamp = report.startedAt.replace(/[:.]/g, '-').slice(0, 19);
  const json = `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
  // Only a full run (every operation and section, at least 3 runs of at least 10 s, no
  // --compare build) replaces latest.json/svg, which README shows; --quick (CI) and any
  // partial run (--only, shorter runs, a patched build) write latest-quick / latest-partial.
  const o = report.options;
  const full = !o.quick && o.ops.length === OPS.length && o.sections.length === SECTIONS.length && o.runs >= 3 && o.durationSeconds >= 10 && o.compare === undefined && o.workers === undefined && o.besideSqlite !== true;
  const suffix = o.quick ? '-quick' : full ? '' : '-partial';
  const files = [`${stamp}${suffix}.json`, `latest${suffix}.json`, `latest${suffix}.svg`];
  writeFileSync(join(dir, files[0] ?? ''), json);
  writeFileSync(join(dir, files[1] ?? ''), json);
  writeFileSync(join(dir, files[2] ?? ''), renderSvg(report));
  return `${renderTable(report, targets)}results: ${files.map((f) => `bench/results/${f}`).join(', ')}\n`;
}
