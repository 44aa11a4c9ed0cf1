// ID-token signing on its own: does signing belong off the event loop? Compares, for RS256
// (RSA 2048) and ES256 (P-256), on an ID token's claims:
//
//   jose      jose's SignJWT with an imported CryptoKey (what src/oauth/id-token.ts does):
//             WebCrypto, whose subtle.sign runs on the libuv thread pool
//   subtle    crypto.subtle.sign on the same CryptoKey, the compact JWS assembled by hand
//             (jose's own cost is the difference with the line above)
//   sync      node:crypto sign() with a KeyObject, on the event loop
//   callback  node:crypto sign() with a KeyObject and a callback: the thread pool
//
// each with 1, 4 and 16 signatures in flight, in a child process per libuv thread-pool size
// (UV_THREADPOOL_SIZE 1, 2, 4: the default is 4), and optionally with `--work MS` of other
// synchronous event-loop work per signature (a request's own handling). Per variant: signatures
// a second (wall), CPU per signature (every thread of the process), and event-loop CPU per
// signature (the main thread's own CPU time: what other requests wait behind). Every variant's
// output is checked with jose's compactVerify first.
//
//   node --import tsx bench/sign.ts                      # both algorithms, pools 1, 2, 4, 1 s each
//   node --import tsx bench/sign.ts --seconds 2 --work 0.2 --pools 4 --alg RS256
//
// Not part of `npm run bench`; figures and conclusion in docs/PERFORMANCE.md, "ID token signing".
import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign as nodeSign, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compactVerify, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey } from 'jose';

type Alg = 'RS256' | 'ES256';
const VARIANTS = ['jose', 'subtle', 'sync', 'callback'] as const;
type Variant = (typeof VARIANTS)[number];
const CONCURRENCY = [1, 4, 16] as const;

interface Row {
  alg: Alg;
  variant: Variant;
  pool: number;
  inFlight: number;
  perSecond: number;
  cpuMsPerSig: number;
  loopMsPerSig: number;
}

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    work: { type: 'string', default: '0' },
    pools: { type: 'string', default: '1,2,4' },
    alg: { type: 'string', default: 'RS256,ES256' },
    child: { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const workMs = Number(args.work);
const algs = args.alg.split(',') as Alg[];

/** An ID token's claims as Latchkey mints them for scope `openid profile email` (about 450 bytes). */
function claims(): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: 'usr_5f1c2a9e7b3d4c8a9e0f1a2b3c4d5e6f', name: 'John Doe', locale: 'nl', updated_at: now - 86_400,
    email: 'bench@example.com', email_verified: true, iss: 'https://login.example.com', aud: 'client-id-0123456789',
    exp: now + 3600, iat: now, auth_time: now - 60, sid: 'sid_0123456789abcdef0123456789abcdef', amr: ['pwd'],
    nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
  };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** Spins the event loop for `ms` (a request's own synchronous work). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

async function signers(alg: Alg): Promise<{ publicKey: CryptoKey; sign: Record<Variant, () => Promise<string>> }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const cryptoKey = (await importJWK(jwk, alg)) as CryptoKey;
  const keyObject: KeyObject = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const header = { alg, kid: 'bench', typ: 'JWT' };
  const webAlg = alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
  const nodeKey = alg === 'RS256' ? keyObject : { key: keyObject, dsaEncoding: 'ieee-p1363' as const };
  const input = () => `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims()))}`;
  return { publicKey, sign: {
    jose: () => new SignJWT(claims()).setProtectedHeader(header).sign(cryptoKey),
    subtle: async () => {
      const data = input();
      const sig = await webcrypto.subtle.sign(webAlg, cryptoKey as webcrypto.CryptoKey, Buffer.from(data));
      return `${data}.${Buffer.from(sig).toString('base64url')}`;
    },
    sync: async () => {
      const data = input();
      return `${data}.${nodeSign('sha256', Buffer.from(data), nodeKey).toString('base64url')}`;
    },
    callback: () => new Promise((resolve, reject) => {
      const data = input();
      nodeSign('sha256', Buffer.from(data), nodeKey, (err, sig) => (err ? reject(err) : resolve(`${data}.${sig.toString('base64url')}`)));
    }),
  } };
}

/**
 * CPU time the main thread (the event loop) has run, in milliseconds: the first field of its
 * schedstat, nanoseconds on a CPU. Not the event-loop utilisation, which counts wall time and
 * so grows when other processes take the cores.
 */
function mainThreadCpuMs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

async function measure(sign: () => Promise<string>, inFlight: number, ms: number): Promise<Omit<Row, 'alg' | 'variant' | 'pool' | 'inFlight'>> {
  let count = 0;
  const cpu0 = process.cpuUsage();
  const loop0 = mainThreadCpuMs();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      if (workMs > 0) busy(workMs);
      await sign();
      count++;
    }
  }));
  const wall = performance.now() - t0;
  const loop = mainThreadCpuMs() - loop0;
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: (count / wall) * 1000, cpuMsPerSig: (cpu.user + cpu.system) / 1000 / count, loopMsPerSig: loop / count };
}

async function child(): Promise<void> {
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const rows: Row[] = [];
  for (const alg of algs) {
    const { publicKey, sign } = await signers(alg);
    for (const variant of VARIANTS) {
      // Every variant's output must verify with jose (what a relying party checks).
      await compactVerify(await sign[variant](), publicKey, { algorithms: [alg] });
      await measure(sign[variant], 4, 300);
      for (const inFlight of CONCURRENCY) rows.push({ alg, variant, pool, inFlight, ...(await measure(sign[variant], inFlight, seconds * 1000)) });
    }
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

async function main(): Promise<void> {
  if (args.child) return child();
  const pools = args.pools.split(',').map(Number);
  const rows: Row[] = [];
  for (const pool of pools) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', '--seconds', String(seconds), '--work', String(workMs), '--alg', algs.join(',')], {
      env: { ...process.env, UV_THREADPOOL_SIZE: String(pool) }, encoding: 'utf8', maxBuffer: 1 << 20,
    });
    rows.push(...(JSON.parse(out.trim().split('\n').pop() ?? '[]') as Row[]));
  }
  const lines = [
    `${cpus()[0]?.model.trim() ?? '?'}, ${availableParallelism()} cores, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${seconds} s per figure${workMs > 0 ? `, ${workMs} ms of other event-loop work per signature` : ''}`,
    '',
    '| alg | variant | pool | in flight | signatures/s | CPU ms/sig | event-loop CPU ms/sig |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.alg} | ${r.variant} | ${r.pool} | ${r.inFlight} | ${Math.round(r.perSecond).toLocaleString('en')} | ${r.cpuMsPerSig.toFixed(3)} | ${r.loopMsPerSig.toFixed(3)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
