// The adversarial suite's harness: a Keybrake (and a twin instance on the same database) in front of fake vendors
// that keep their own books (helpers/billing-fakes.ts). Every attempt runs with a fresh vault key; afterwards the
// books are checked against Keybrake's: the vendor never moved more than Keybrake counted, nor more than the cap,
// every call left its audit row, and no secret reached a caller, the audit or the log.
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../service/config';
import { startServer, type Running } from '../../service/server';
import { startResendBooks, startStripeBooks, startTwilioBooks, type BillingFake } from '../helpers/billing-fakes';
import { mcpSession, type McpSession } from '../helpers/mcp-client';
import { call, serviceEnv, startTestService, type TestService } from '../helpers/service';
import type { StoreName } from '../helpers/stores';

export type Vendor = 'stripe' | 'twilio' | 'resend';

export interface World {
  svc: TestService;
  /** A second instance on the same database. */
  twin: Running;
  stripe: Awaited<ReturnType<typeof startStripeBooks>>;
  twilio: Awaited<ReturnType<typeof startTwilioBooks>>;
  resend: BillingFake;
  /** Every line either instance logged. */
  logs: string[];
  /** Every answer a caller received (headers and body), to search for secrets. */
  answers: string[];
  secrets: string[];
  /** The environment both instances were started with. */
  env: Record<string, string>;
}

export type Reply = Awaited<ReturnType<typeof call>>;

export interface Attempt {
  key: { id: string; vault_key: string };
  /** A proxied call with the attempt's key, to this instance or the twin. */
  call(path: string, opts?: Parameters<typeof call>[2] & { twin?: boolean }): Promise<Reply>;
  /** A tool called over MCP (/mcp) with the attempt's key, in one session per attempt and instance. */
  tool(name: string, args: Record<string, unknown>, opts?: { twin?: boolean }): Promise<{ text: string; isError: boolean }>;
  world: World;
}

function capture(lines: string[]): pino.Logger {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
}

/** Starts the world before the file's tests and stops it after. */
export function useWorld(storeName: StoreName, extraEnv: Record<string, string> = {}, opts: { remoteLegs?: number } = {}): World {
  const world = { logs: [] as string[], answers: [] as string[] } as unknown as World;
  beforeAll(async () => {
    world.stripe = await startStripeBooks();
    world.twilio = await startTwilioBooks(undefined, undefined, opts);
    world.resend = await startResendBooks();
    const env = {
      STRIPE_SECRET_KEY: world.stripe.secret,
      KEYBRAKE_UPSTREAM_STRIPE: world.stripe.url,
      TWILIO_ACCOUNT_SID: world.twilio.sid,
      TWILIO_AUTH_TOKEN: world.twilio.secret,
      KEYBRAKE_UPSTREAM_TWILIO: world.twilio.url,
      RESEND_API_KEY: world.resend.secret,
      KEYBRAKE_UPSTREAM_RESEND: world.resend.url,
      ...extraEnv,
    };
    world.env = env;
    world.secrets = [world.stripe.secret, world.twilio.secret, world.resend.secret, Buffer.from(`${world.twilio.sid}:${world.twilio.secret}`).toString('base64')];
    world.svc = await startTestService(storeName, undefined, env, { log: capture(world.logs) });
    world.twin = await startServer(loadConfig(serviceEnv(world.svc.store, undefined, env)), { log: capture(world.logs), announce: () => undefined });
  });
  afterAll(async () => {
    await world.twin?.close();
    await world.svc?.close();
    await Promise.all([world.stripe?.close(), world.twilio?.close(), world.resend?.close()]);
  });
  return world;
}

const fakeOf = (world: World, vendor: Vendor): BillingFake => world[vendor];

/**
 * Runs one attempt with a fresh key ($`cap` a day on `vendor`, every endpoint unless `policy` says otherwise) and
 * checks the books after it. Returns what the vendor billed and Keybrake counted, in micro-USD.
 */
export async function attempt(
  world: World,
  vendor: Vendor,
  cap: number,
  run: (a: Attempt) => Promise<void>,
  policy: Record<string, unknown> = {},
): Promise<{ billed: number; counted: number; calls: number }> {
  const key = await world.svc.issueKey({ vendor, daily_usd_cap: cap, allowed_endpoints: ['*'], dedupe_window: 'off', ...policy });
  const fake = fakeOf(world, vendor);
  const before = fake.billed();
  let calls = 0;
  const sessions = new Map<string, Promise<McpSession>>();
  const sessionOf = (url: string): Promise<McpSession> => {
    let s = sessions.get(url);
    if (!s) sessions.set(url, (s = mcpSession(url, key.vault_key)));
    return s;
  };
  await run({
    key,
    world,
    async tool(name, args, opts = {}) {
      calls++;
      const result = await (await sessionOf(opts.twin ? world.twin.url : world.svc.url)).call(name, args);
      world.answers.push(result.texts.join('\n'));
      return result;
    },
    async call(path, opts = {}) {
      calls++;
      const reply = await call(opts.twin ? world.twin.url : world.svc.url, path, { key: key.vault_key, ...opts });
      const headers: string[] = [];
      reply.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
      world.answers.push(headers.join('\n') + '\n' + JSON.stringify(reply.body));
      return reply;
    },
  });
  for (const s of sessions.values()) await (await s).close();
  await world.twin.settled();
  const shown = await world.svc.admin().get(`/vault/keys/${key.id}`);
  const counted = Math.round(Number(shown.body.spent_today_usd) * 1e6);
  const billed = fake.billed() - before;
  const rows = await (await world.svc.db()).knex('audit_log').where({ key_id: key.id }).count({ n: '*' });
  expect({ billed_not_above_counted: billed <= counted, billed, counted }).toEqual({ billed_not_above_counted: true, billed, counted });
  expect({ billed_within_cap: billed <= cap * 1e6, billed, cap }).toEqual({ billed_within_cap: true, billed, cap });
  expect(Number(rows[0]?.n)).toBe(calls);
  return { billed, counted, calls };
}

/** No secret Keybrake holds appears in anything a caller received, in the audit, or in the logs. */
export async function expectNoSecretLeaked(world: World): Promise<void> {
  const audit = JSON.stringify(await (await world.svc.db()).knex('audit_log').select());
  for (const secret of world.secrets) {
    expect({ secret: secret.slice(0, 6), inAnswers: world.answers.some((a) => a.includes(secret)) }).toEqual({ secret: secret.slice(0, 6), inAnswers: false });
    expect({ secret: secret.slice(0, 6), inAudit: audit.includes(secret) }).toEqual({ secret: secret.slice(0, 6), inAudit: false });
    expect({ secret: secret.slice(0, 6), inLogs: world.logs.some((l) => l.includes(secret)) }).toEqual({ secret: secret.slice(0, 6), inLogs: false });
  }
}

export const form = (fields: Record<string, string | number>): string => new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)])).toString();

/**
 * Runs one attempt that makes a single call and checks that the vendor received it (`expectForwarded`) or nothing,
 * and that money moved exactly when it did.
 */
export async function oneCall(world: World, vendor: Vendor, cap: number, expectForwarded: boolean, run: (a: Attempt) => Promise<void>, policy: Record<string, unknown> = {}): Promise<void> {
  const writes = (): number => world[vendor].received.filter((r) => r.method !== 'GET').length;
  const before = writes();
  const { billed, counted } = await attempt(world, vendor, cap, run, policy);
  expect(writes() - before).toBe(expectForwarded ? 1 : 0);
  if (expectForwarded) expect(billed).toBeGreaterThan(0);
  else expect(counted).toBe(0);
}
