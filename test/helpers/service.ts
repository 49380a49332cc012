import { request as httpRequest } from 'node:http';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../service/config';
import { startServer, type Extras, type Running } from '../../service/server';
import type { Db } from '../../service/store/db';
import { startFakeStripe, type FakeStripe } from './fake-stripe';
import { createTestStore, type StoreName, type TestStore } from './stores';

export const ADMIN_KEY = 'kb_test_admin_key_0123456789abcdef';
export const MASTER_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';

export interface TestService {
  url: string;
  running: Running;
  store: TestStore;
  admin(): request.Agent;
  /** The service's database, once the settlements of the calls answered so far are written. */
  db(): Promise<Db>;
  /** Issues a key through the admin API and returns the response body. */
  issueKey(body: Record<string, unknown>): Promise<{ id: string; vault_key: string } & Record<string, unknown>>;
  close(): Promise<void>;
}

export function serviceEnv(store: TestStore, fake: FakeStripe | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    KEYBRAKE_ADMIN_KEY: ADMIN_KEY,
    KEYBRAKE_MASTER_KEY: MASTER_KEY,
    KEYBRAKE_LOG_LEVEL: 'silent',
    ...(fake ? { STRIPE_SECRET_KEY: fake.secret, KEYBRAKE_UPSTREAM_STRIPE: fake.url } : {}),
    ...store.env,
    ...extra,
  };
}

export async function startTestService(storeName: StoreName, fake?: FakeStripe, extra: Record<string, string> = {}, extras: Pick<Extras, 'clock' | 'publicRoutes' | 'log'> = {}): Promise<TestService> {
  const store = await createTestStore(storeName);
  const config = loadConfig(serviceEnv(store, fake, extra));
  const running = await startServer(config, { log: pino({ level: 'silent' }), announce: () => undefined, ...extras });
  const admin = (): request.Agent => request.agent(running.url).set('authorization', `Bearer ${ADMIN_KEY}`);
  return {
    url: running.url,
    running,
    store,
    admin,
    async db() {
      await running.settled();
      return running.db;
    },
    async issueKey(body) {
      const res = await admin().post('/vault/keys').send(body);
      if (res.status !== 201) throw new Error(`issuing a key failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { id: string; vault_key: string };
    },
    async close() {
      await running.close();
      await store.drop();
    },
  };
}

/** A proxied call with fetch, as an agent's HTTP tool would make it. */
export async function call(
  url: string,
  path: string,
  opts: { method?: string; key?: string; form?: string; json?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> & { error?: Record<string, unknown> } }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = opts.form;
  } else if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    body = opts.raw;
  }
  // node:http sends the path byte for byte; fetch would normalise `%2e%2e` and `//` before we could test them.
  const res = await rawRequest(url, path, opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, body);
  const text = res.body;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

function rawRequest(base: string, path: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; headers: Headers; body: string }> {
  return new Promise((ok, fail) => {
    const u = new URL(base);
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        ok({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

/**
 * Registers beforeAll/afterAll hooks that start a fake Stripe and a service pointed at it; the returned object
 * is filled in when the hooks have run.
 */
export function useStripeService(storeName: StoreName, extra: Record<string, string> = {}, clock?: () => number): { fake: FakeStripe; svc: TestService } {
  const ctx = {} as { fake: FakeStripe; svc: TestService };
  beforeAll(async () => {
    ctx.fake = await startFakeStripe();
    ctx.svc = await startTestService(storeName, ctx.fake, extra, clock ? { clock } : {});
  });
  afterAll(async () => {
    await ctx.svc.running.close().catch(() => undefined);
    await ctx.svc.store.drop();
    await ctx.fake.close();
  });
  return ctx;
}
