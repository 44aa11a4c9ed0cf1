// The bench's command line: `npm run bench -- [flags]`.
import { parseArgs } from 'node:util';
import { OPS, type OpName } from './targets.js';

/** Sections that are not single operations but can be picked with --only too. */
export const SECTIONS = ['growth', 'argon2', 'startup'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  databaseUrl: string | undefined;
  connections: number;
  /** Seconds of each measured run. */
  duration: number;
  /** Measured runs per operation and server (medians are taken over them). */
  runs: number;
  /** Seconds of the unmeasured warm-up before a server's first run of an operation. */
  warmup: number;
  ops: OpName[];
  sections: Section[];
  /** Grants (one access and one refresh token each) put in the database for the growth figures. */
  growthGrants: number;
  /** Use the project's dist/ instead of a private build of src/. */
  useDist: boolean;
  /** Measure the build in this directory (an experiment's patched copy) instead. */
  dist: string | undefined;
  /** A second build measured beside Latchkey, interleaved (before/after figures for a change). */
  compare: string | undefined;
  /** Profile Latchkey (node --cpu-prof) on this operation instead of running the bench. */
  profile: OpName | undefined;
  /** Requests a second of /api/user in the argon2 check (open loop, so latency means something). */
  argon2Rate: number;
  /**
   * Also measure Latchkey with `serve --workers N`, interleaved with the one-process server
   * (its CPU summed over the primary and every worker).
   */
  workers: number | undefined;
  /**
   * With --database-url: also measure the same build on a fresh SQLite file, interleaved, so
   * that PostgreSQL's figures are judged against SQLite's from the same runs.
   */
  besideSqlite: boolean;
}

export const USAGE = `usage: npm run bench -- [flags]
  --quick                 one short run (3 s) per operation and server, 50,000-grant growth (CI)
  --database-url URL      postgres://… runs Latchkey on PostgreSQL (a fresh schema per server); default: fresh SQLite files
  --connections N         load-generator connections (default 50)
  --duration S            seconds per measured run (default 10; 3 with --quick)
  --runs N                measured runs per operation and server; medians over them (default 3; 1 with --quick)
  --only a,b              operations (${OPS.join(', ')}) and sections (${SECTIONS.join(', ')}) to run
  --growth-tokens N       grants with an access and a refresh token each for the growth figures (default 1000000; 50000 with --quick)
  --use-dist              measure ./dist as built, instead of a private build of src/
  --dist DIR              measure the build in DIR (e.g. an experiment's patched copy)
  --compare DIR           also measure the build in DIR, interleaved with Latchkey's (before/after a change)
  --profile OP            run OP against Latchkey under node --cpu-prof and print the hottest frames
  --beside-sqlite         with --database-url: also measure the same build on SQLite, interleaved, and judge PostgreSQL against it
  --workers N             also measure Latchkey with serve --workers N (N ≥ 2), interleaved with the one-process server`;

export class ArgsError extends Error {
  override name = 'ArgsError';
}

function positive(value: string | undefined, name: string, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new ArgsError(`--${name} must be a positive ${integer ? 'whole ' : ''}number, got ${JSON.stringify(value)}`);
  return n;
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean' },
        'database-url': { type: 'string' },
        connections: { type: 'string' },
        duration: { type: 'string' },
        runs: { type: 'string' },
        only: { type: 'string' },
        'growth-tokens': { type: 'string' },
        'use-dist': { type: 'boolean' },
        dist: { type: 'string' },
        compare: { type: 'string' },
        profile: { type: 'string' },
        workers: { type: 'string' },
        'beside-sqlite': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ArgsError((err as Error).message);
  }
  if (values.help) throw new ArgsError('');
  const quick = values.quick === true;
  const databaseUrl = values['database-url'];
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ArgsError('--database-url must be a postgres:// URL (SQLite is the default)');
  let ops: OpName[] = [...OPS];
  let sections: Section[] = [...SECTIONS];
  if (values.only !== undefined) {
    const picked = values.only.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = picked.filter((p) => !(OPS as readonly string[]).includes(p) && !(SECTIONS as readonly string[]).includes(p));
    if (unknown.length > 0 || picked.length === 0) throw new ArgsError(`--only: unknown ${unknown.join(', ') || '(empty)'}; choose from ${[...OPS, ...SECTIONS].join(', ')}`);
    ops = OPS.filter((o) => picked.includes(o));
    sections = SECTIONS.filter((s) => picked.includes(s));
  }
  const profile = values.profile;
  if (profile !== undefined && !(OPS as readonly string[]).includes(profile)) throw new ArgsError(`--profile: unknown operation ${profile}`);
  const workers = values.workers === undefined ? undefined : positive(values.workers, 'workers', 2);
  if (workers !== undefined && (workers < 2 || workers > 64)) throw new ArgsError(`--workers must be from 2 to 64 (the one-process server is always measured beside it), got ${JSON.stringify(values.workers)}`);
  const besideSqlite = values['beside-sqlite'] === true;
  if (besideSqlite && databaseUrl === undefined) throw new ArgsError('--beside-sqlite needs --database-url (SQLite is then measured beside PostgreSQL)');
  return {
    quick,
    databaseUrl,
    connections: positive(values.connections, 'connections', 50),
    duration: positive(values.duration, 'duration', quick ? 3 : 10, false),
    runs: positive(values.runs, 'runs', quick ? 1 : 3),
    warmup: quick ? 0.5 : 1.5,
    ops,
    sections,
    growthGrants: positive(values['growth-tokens'], 'growth-tokens', quick ? 50_000 : 1_000_000),
    useDist: values['use-dist'] === true,
    dist: values.dist,
    compare: values.compare,
    profile: profile as OpName | undefined,
    argon2Rate: 1000,
    workers,
    besideSqlite,
  };
}
