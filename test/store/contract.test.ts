// The store's contract (store/steps.ts, run by store/executor.ts): one table of cases, run on every executor there
// is: SQLite (statement by statement, synchronously) and PostgreSQL (the compiled batch functions), each both alone
// (a batch of one) and batched (in the same transaction as other keys' calls, in one turn of the event loop).
import type { CapCheck } from '../../service/policy/limits';
import type { AuditEntry } from '../../service/store/audit';
import { openDb, type Db } from '../../service/store/db';
import { record, reserve, resolve, settle, type Reservation, type ReserveResult, type Settlement } from '../../service/store/ledger';
import { migrate } from '../../service/store/migrations';
import type { AlertRows, ThresholdRows } from '../../service/store/outbox';
import { SPENT_PLACEHOLDER } from '../../service/store/steps';
import { createTestStore, describeEachStore, PG_ENABLED, type TestStore } from '../helpers/stores';

const DAY = '2026-11-27';
let seq = 0;
const id = (p: string): string => `${p}_${++seq}`;

const entry = (auditId: string, over: Partial<AuditEntry> = {}): AuditEntry => ({
  id: auditId, workspaceId: 'default', ts: 1, keyId: 'key', keyLabel: 'contract', vendor: 'stripe', method: 'POST', path: '/v1/charges',
  decision: 'allow', code: null, message: null, estimatedMicros: 0, reservedMicros: 0, windowStart: DAY, budgetId: null,
  budgetWindow: null, status: null, latencyMs: null, runId: null, conversationId: null, userRef: null, idempotencyKey: null, requestBody: null, ...over,
});

/** An alert event (with its delivery) for each cap, written when the reservation takes the cap to 80% (as cap.threshold). */
function thresholds(caps: CapCheck[], auditId: string): ThresholdRows {
  const rows: ThresholdRows = { events: [], deliveries: [] };
  caps.forEach((cap, i) => {
    const evt = `evt_${auditId}_${i}`;
    const payload = JSON.stringify({ spent_usd: SPENT_PLACEHOLDER });
    rows.events.push({ id: evt, workspaceId: 'default', eventKey: `t:${cap.subjectId}:${cap.windowStart}`, type: 'cap.threshold', keyId: 'key', payload, createdAt: 1, subjectId: cap.subjectId, windowStart: cap.windowStart, minSpentMicros: Math.ceil(cap.capMicros * 0.8) });
    rows.deliveries.push({ id: `whd_${auditId}_${i}`, eventId: evt, workspaceId: 'default', url: 'https://hooks.example/x', createdAt: 1 });
  });
  return rows;
}

/** A reservation: its audit row, its threshold events, and the refusal's row with the refusal's kind as its code. */
function reservation(auditId: string, r: Omit<Reservation, 'audit' | 'refused'>, over: { thresholds?: ThresholdRows } = {}): Reservation {
  return {
    thresholds: over.thresholds ?? thresholds(r.caps, auditId),
    ...r,
    audit: entry(auditId, { estimatedMicros: r.micros, reservedMicros: r.micros }),
    refused: (refusal) => ({ audit: entry(auditId, { decision: 'deny', code: refusal.kind, status: 429 }) }),
  };
}

/** Events written on their own (as key.revoked is). */
function plainEvents(auditId: string): AlertRows {
  return { events: [{ id: `evt_${auditId}`, workspaceId: 'default', eventKey: `k:${auditId}`, type: 'key.revoked', keyId: 'key', payload: '{}', createdAt: 1 }], deliveries: [] };
}

const cap = (subjectId: string, capMicros: number, kind: CapCheck['kind'] = 'daily', windowStart = DAY): CapCheck => ({ kind, subjectId, windowStart, capMicros });

type Mode = 'alone' | 'batched';

/** Runs the case's calls alone, or in one turn with eight other keys' calls (which must all stand). */
async function run<T>(db: Db, mode: Mode, work: () => Promise<T>): Promise<T> {
  if (mode === 'alone') return work();
  const fillers = Array.from({ length: 8 }, (_, i) => {
    const k = id(`filler${i}`);
    return reserve(db, reservation(id('aud_f'), { micros: 1_000, caps: [cap(k, 10_000_000)] }));
  });
  const [out, ...others] = await Promise.all([work(), ...fillers]);
  for (const o of others as ReserveResult[]) expect(o).toEqual({ ok: true, spentAfter: [1_000] });
  return out as T;
}

describeEachStore('store contract', (storeName) => {
  let store: TestStore;
  let db: Db;
  beforeAll(async () => {
    store = await createTestStore(storeName);
    db = openDb(store.target);
    await migrate(db);
  });
  afterAll(async () => {
    await db.knex.destroy();
    await store.drop();
  });

  const spent = async (subject: string, window = DAY): Promise<number | undefined> => {
    const row = (await db.knex('spend_windows').where({ subject_id: subject, window_start: window }).first('spent_micros')) as { spent_micros: number } | undefined;
    return row === undefined ? undefined : Number(row.spent_micros);
  };
  const seed = async (subject: string, micros: number, window = DAY): Promise<void> => void (await db.knex('spend_windows').insert({ subject_id: subject, window_start: window, spent_micros: micros }));
  const audit = async (auditId: string): Promise<Record<string, unknown> | undefined> => (await db.knex('audit_log').where({ id: auditId }).first()) as Record<string, unknown> | undefined;
  const events = async (prefix: string): Promise<number> => Number(((await db.knex('webhook_events').where('id', 'like', `${prefix}%`).count('* as n')) as { n: number | string }[])[0]?.n);
  const claim = async (keyId: string, hash: string): Promise<Record<string, unknown> | undefined> => (await db.knex('dedupe').where({ key_id: keyId, request_hash: hash }).first()) as Record<string, unknown> | undefined;

  describe.each(['alone', 'batched'] as Mode[])('%s', (mode) => {
    test('exactly at the cap: reserved, with its audit row and the threshold event it crossed', async () => {
      const k = id('k');
      const a = id('aud');
      await seed(k, 4_000_000);
      const r = await run(db, mode, () => reserve(db, reservation(a, { micros: 1_000_000, caps: [cap(k, 5_000_000)] })));
      expect(r).toEqual({ ok: true, spentAfter: [5_000_000] });
      expect(await spent(k)).toBe(5_000_000);
      expect(await audit(a)).toMatchObject({ decision: 'allow', reserved_micros: 1_000_000 });
      expect(await events(`evt_${a}`)).toBe(1);
      const payload = (await db.knex('webhook_events').where({ id: `evt_${a}_0` }).first('payload')) as { payload: string };
      expect(JSON.parse(payload.payload)).toEqual({ spent_usd: 5 });
      expect(await db.knex('webhook_outbox').where({ event_id: `evt_${a}_0` }).pluck('url')).toEqual(['https://hooks.example/x']);
    });

    test('one micro over the cap: refused with the spend so far; nothing reserved, the refusal recorded, no event', async () => {
      const k = id('k');
      const a = id('aud');
      await seed(k, 4_000_000);
      const r = await run(db, mode, () => reserve(db, reservation(a, { micros: 1_000_001, caps: [cap(k, 5_000_000)] })));
      expect(r).toMatchObject({ ok: false, refusal: { kind: 'daily', spentMicros: 4_000_000, cap: { subjectId: k } } });
      expect(await spent(k)).toBe(4_000_000);
      expect(await audit(a)).toMatchObject({ decision: 'deny', code: 'daily', reserved_micros: 0 });
      expect(await events(`evt_${a}`)).toBe(0);
    });

    test('a fresh window and a call alone over the cap: refused, and no spend row is made', async () => {
      const k = id('k');
      const a = id('aud');
      const r = await run(db, mode, () => reserve(db, reservation(a, { micros: 1_000_001, caps: [cap(k, 1_000_000)] })));
      expect(r).toMatchObject({ ok: false, refusal: { kind: 'daily', spentMicros: 0 } });
      expect(await spent(k)).toBeUndefined();
      expect(await audit(a)).toMatchObject({ decision: 'deny' });
    });

    test('a stale policy epoch writes nothing at all, not even an audit row', async () => {
      await db.knex('workspaces').where({ id: 'default' }).update({ policy_epoch: 3 });
      const k = id('k');
      const a = id('aud');
      const r = await run(db, mode, () => reserve(db, reservation(a, { micros: 1_000, caps: [cap(k, 5_000_000)], guard: { workspaceId: 'default', epoch: 2 } })));
      expect(r).toEqual({ ok: false, stale: true });
      expect(await spent(k)).toBeUndefined();
      expect(await audit(a)).toBeUndefined();
      const current = await run(db, mode, () => reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(k, 5_000_000)], guard: { workspaceId: 'default', epoch: 3 } })));
      expect(current.ok).toBe(true);
    });

    test('a workspace with no row is at epoch 0: a key read from it at 0 reserves, at 1 is stale', async () => {
      const k = id('k');
      const guard = (epoch: number) => ({ workspaceId: id('ws_missing'), epoch });
      expect(await run(db, mode, () => reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(k, 5_000_000)], guard: guard(0) })))).toEqual({ ok: true, spentAfter: [1_000] });
      expect(await run(db, mode, () => reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(k, 5_000_000)], guard: guard(1) })))).toEqual({ ok: false, stale: true });
    });

    const dedupe = (keyId: string, hash: string, auditId: string, now = 10_000) => ({ keyId, hash, now, cutoff: now - 600_000, auditId, idempotencyKey: `kb_${auditId}` });

    test('a duplicate of an answered call: refused with the original, and the rate window and caps untouched', async () => {
      const k = id('k');
      const first = id('aud');
      const rate = { subjectId: k, windowStart: 'm1', limit: 5, expiresAt: 99_999_999 };
      expect((await reserve(db, reservation(first, { micros: 1_000, caps: [cap(k, 5_000_000)], rate, dedupe: dedupe(k, 'h1', first) }))).ok).toBe(true);
      await db.knex('dedupe').where({ key_id: k, request_hash: 'h1' }).update({ status: 200, response: 'sealed' });
      const again = id('aud');
      const r = await run(db, mode, () => reserve(db, reservation(again, { micros: 1_000, caps: [cap(k, 5_000_000)], rate, dedupe: dedupe(k, 'h1', again, 20_000) })));
      expect(r).toEqual({ ok: false, refusal: { kind: 'duplicate', original: { audit_id: first, idempotency_key: `kb_${first}`, status: 200, response: 'sealed' } } });
      expect(await spent(k)).toBe(1_000);
      expect(await db.knex('rate_windows').where({ subject_id: k }).first('requests')).toEqual({ requests: 1 });
      expect(await audit(again)).toMatchObject({ decision: 'deny', code: 'duplicate' });
    });

    test('a duplicate of a call still in flight: refused, the original in flight (status null)', async () => {
      const k = id('k');
      const first = id('aud');
      await reserve(db, reservation(first, { micros: 1_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h2', first) }));
      const r = await run(db, mode, () => reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h2', id('aud'), 20_000) })));
      expect(r).toMatchObject({ ok: false, refusal: { kind: 'duplicate', original: { audit_id: first, status: null } } });
    });

    test('a claim past the dedupe window is taken over; one being reconciled (status 0) never is', async () => {
      const k = id('k');
      const first = id('aud');
      await reserve(db, reservation(first, { micros: 1_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h3', first, 10_000) }));
      await db.knex('dedupe').where({ key_id: k, request_hash: 'h3' }).update({ status: 200 });
      const later = id('aud');
      expect((await run(db, mode, () => reserve(db, reservation(later, { micros: 1_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h3', later, 10_000 + 700_000) })))).ok).toBe(true);
      expect(await claim(k, 'h3')).toMatchObject({ audit_id: later, status: null });
      await db.knex('dedupe').where({ key_id: k, request_hash: 'h3' }).update({ status: 0 });
      const r = await run(db, mode, () => reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h3', id('aud'), 10_000 + 9_000_000) })));
      expect(r).toMatchObject({ ok: false, refusal: { kind: 'duplicate', original: { audit_id: later, status: 0 } } });
    });

    test('the rate window full: refused, and the dedupe claim made before it is undone', async () => {
      const k = id('k');
      const rate = { subjectId: k, windowStart: 'm2', limit: 1, expiresAt: 99_999_999 };
      expect((await reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(k, 5_000_000)], rate }))).ok).toBe(true);
      const a = id('aud');
      const r = await run(db, mode, () => reserve(db, reservation(a, { micros: 1_000, caps: [cap(k, 5_000_000)], rate, dedupe: dedupe(k, 'h4', a) })));
      expect(r).toEqual({ ok: false, refusal: { kind: 'rate', requests: 1 } });
      expect(await claim(k, 'h4')).toBeUndefined();
      expect(await spent(k)).toBe(1_000);
    });

    test('key, lifetime and budget caps are all or nothing: the budget full undoes the day, the lifetime, the claim and the rate', async () => {
      const k = id('k');
      const b = id('bud');
      await seed(b, 9_500_000);
      const rate = { subjectId: k, windowStart: 'm3', limit: 10, expiresAt: 99_999_999 };
      const caps = [cap(k, 5_000_000), cap(k, 50_000_000, 'total', 'total'), cap(b, 10_000_000, 'budget')];
      const a = id('aud');
      const r = await run(db, mode, () => reserve(db, reservation(a, { micros: 1_000_000, caps, rate, dedupe: dedupe(k, 'h5', a) })));
      expect(r).toMatchObject({ ok: false, refusal: { kind: 'budget', spentMicros: 9_500_000, cap: { subjectId: b } } });
      expect([await spent(k), await spent(k, 'total'), await spent(b)]).toEqual([undefined, undefined, 9_500_000]);
      expect(await claim(k, 'h5')).toBeUndefined();
      expect(await db.knex('rate_windows').where({ subject_id: k }).first()).toBeUndefined();
      const ok = await run(db, mode, () => reserve(db, reservation(id('aud'), { micros: 500_000, caps, rate })));
      expect(ok).toEqual({ ok: true, spentAfter: [500_000, 500_000, 10_000_000] });
    });

    test('a threshold not reached raises nothing; one reached raises its event once per window', async () => {
      const k = id('k');
      const a = id('aud');
      await run(db, mode, () => reserve(db, reservation(a, { micros: 3_999_999, caps: [cap(k, 5_000_000)] })));
      expect(await events(`evt_${a}`)).toBe(0);
      const b = id('aud');
      await run(db, mode, () => reserve(db, reservation(b, { micros: 1, caps: [cap(k, 5_000_000)] })));
      const c = id('aud');
      await run(db, mode, () => reserve(db, reservation(c, { micros: 1_000_000, caps: [cap(k, 5_000_000)] })));
      expect([await events(`evt_${b}`), await events(`evt_${c}`)]).toEqual([1, 0]);
      const payload = (await db.knex('webhook_events').where({ id: `evt_${b}_0` }).first('payload')) as { payload: string };
      expect(JSON.parse(payload.payload)).toEqual({ spent_usd: 4 });
    });

    test('a $0 call reserves against no cap and still records its row', async () => {
      const k = id('k');
      const a = id('aud');
      expect(await run(db, mode, () => reserve(db, reservation(a, { micros: 0, caps: [cap(k, 0)] })))).toEqual({ ok: true, spentAfter: [] });
      expect(await spent(k)).toBeUndefined();
      expect(await audit(a)).toMatchObject({ decision: 'allow' });
    });

    test("the records are in the reservation's transaction: when they cannot be written, nothing is reserved", async () => {
      const k = id('k');
      const a = id('aud');
      // Two events with one id (and different keys), both reached: the second cannot be written, so neither can the reservation.
      const ev = (eventKey: string) => ({ id: `evt_${a}`, workspaceId: 'default', eventKey, type: 'cap.threshold', keyId: null, payload: '{}', createdAt: 1, subjectId: k, windowStart: DAY, minSpentMicros: 0 });
      const broken: ThresholdRows = { events: [ev(id('ek')), ev(id('ek'))], deliveries: [] };
      // (Matched by message: better-sqlite3's error class may come from another test file's realm.)
      await expect(run(db, mode, () => reserve(db, reservation(a, { micros: 1_000, caps: [cap(k, 5_000_000)] }, { thresholds: broken })))).rejects.toMatchObject({ message: expect.stringMatching(/duplicate key|UNIQUE/) });
      expect(await spent(k)).toBeUndefined();
      expect(await audit(a)).toBeUndefined();
      expect(await events(`evt_${a}`)).toBe(0);
    });

    const settlement = (auditId: string, caps: CapCheck[], reservedMicros: number, finalMicros: number, over: Partial<Settlement> = {}): Settlement => ({
      auditId, caps, reservedMicros, finalMicros, now: 5,
      outcome: { status: 200, upstreamStatus: 200, latencyMs: 3, settledMicros: finalMicros, objectId: 'ch_1', upstreamRequestId: 'req_1', responseBody: '{}', reconcile: false },
      ...over,
    });

    test('settlement up and down moves every cap by the difference and completes the audit row', async () => {
      const k = id('k');
      const caps = [cap(k, 5_000_000), cap(k, 50_000_000, 'total', 'total')];
      const up = id('aud');
      await reserve(db, reservation(up, { micros: 1_000_000, caps }));
      let after: number[] = [];
      await run(db, mode, () => settle(db, settlement(up, caps, 1_000_000, 1_250_000, { records: (s) => ((after = s), {}) })));
      expect([await spent(k), await spent(k, 'total')]).toEqual([1_250_000, 1_250_000]);
      expect(after).toEqual([1_250_000, 1_250_000]);
      expect(await audit(up)).toMatchObject({ status: 200, settled_micros: 1_250_000, object_id: 'ch_1', upstream_request_id: 'req_1', reconcile: 0 });
      const down = id('aud');
      await reserve(db, reservation(down, { micros: 1_000_000, caps }));
      await run(db, mode, () => settle(db, settlement(down, caps, 1_000_000, 0, { outcome: { status: 402, upstreamStatus: 402, latencyMs: 1, settledMicros: 0, objectId: null, upstreamRequestId: null, responseBody: null, reconcile: false, failure: { code: 'x_code', message: 'x' } } })));
      expect(await spent(k)).toBe(1_250_000);
      expect(await audit(down)).toMatchObject({ status: 402, settled_micros: 0, code: 'x_code' });
    });

    test('a settlement whose outcome is unknown keeps the reservation, marks the row pending and the claim reconciling', async () => {
      const k = id('k');
      const a = id('aud');
      await reserve(db, reservation(a, { micros: 1_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h6', a) }));
      const outcome = { status: 504, upstreamStatus: null, latencyMs: 1, settledMicros: null, objectId: null, upstreamRequestId: null, responseBody: null, reconcile: true };
      await run(db, mode, () => settle(db, settlement(a, [cap(k, 5_000_000)], 1_000, 1_000, { outcome, replay: { keyId: k, hash: 'h6', status: 0, response: null }, pending: { nextAt: 77, note: 'asked later' } })));
      expect(await spent(k)).toBe(1_000);
      expect(await audit(a)).toMatchObject({ reconcile: 1, reconcile_state: 'pending', reconcile_next_at: 77, reconcile_note: 'asked later' });
      expect(await claim(k, 'h6')).toMatchObject({ status: 0 });
    });

    test('release: the reservation comes back and the claim is forgotten, once', async () => {
      const k = id('k');
      const a = id('aud');
      await reserve(db, reservation(a, { micros: 2_000, caps: [cap(k, 5_000_000)], dedupe: dedupe(k, 'h7', a) }));
      await db.knex('audit_log').where({ id: a }).update({ reconcile_state: 'pending' });
      const release = () => resolve(db, { auditId: a, state: 'released', caps: [[k, DAY]], reservedMicros: 2_000, finalMicros: 0, note: 'never happened' });
      expect(await run(db, mode, release)).toBe(true);
      expect(await spent(k)).toBe(0);
      expect(await claim(k, 'h7')).toBeUndefined();
      expect(await audit(a)).toMatchObject({ reconcile_state: 'released', settled_micros: 0, reconcile_note: 'never happened' });
      expect(await run(db, mode, release)).toBe(false);
      expect(await spent(k)).toBe(0);
    });

    test('a refusal recorded on its own writes its row; events recorded on their own write only them', async () => {
      const a = id('aud');
      await run(db, mode, () => record(db, { audit: entry(a, { decision: 'deny', code: 'vault_key_invalid', status: 401 }) }));
      expect(await audit(a)).toMatchObject({ decision: 'deny', code: 'vault_key_invalid' });
      const e = id('aud');
      const before = Number(((await db.knex('audit_log').count('* as n')) as { n: string }[])[0]?.n);
      await run(db, mode, () => record(db, { alerts: plainEvents(e) }));
      expect(await events(`evt_${e}`)).toBe(1);
      expect(Number(((await db.knex('audit_log').count('* as n')) as { n: string }[])[0]?.n)).toBe(before + 8 * (mode === 'batched' ? 1 : 0));
    });
  });

  test('ten $1 reservations at once against a $5 cap: exactly five stand, each with its audit row', async () => {
    const k = id('k');
    const ids = Array.from({ length: 10 }, () => id('aud'));
    const results = await Promise.all(ids.map((a) => reserve(db, reservation(a, { micros: 1_000_000, caps: [cap(k, 5_000_000)] }))));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    expect(await spent(k)).toBe(5_000_000);
    const allowed = (await db.knex('audit_log').whereIn('id', ids).where({ decision: 'allow' }).pluck('id')) as string[];
    expect(allowed.sort()).toEqual(ids.filter((_, i) => results[i]?.ok).sort());
    expect(await db.knex('audit_log').whereIn('id', ids).where({ decision: 'deny' }).pluck('code')).toEqual(['daily', 'daily', 'daily', 'daily', 'daily']);
  });

  test('a job that fails in a batch fails alone; the rest of the batch stands', async () => {
    const k = id('k');
    const [bad, good] = await Promise.allSettled([
      // The same audit id twice: the second row cannot be written.
      reserve(db, reservation('aud_same', { micros: 1_000, caps: [cap(k, 5_000_000)] })),
      reserve(db, reservation(id('aud'), { micros: 1_000, caps: [cap(id('k'), 5_000_000)] })),
      reserve(db, reservation('aud_same', { micros: 1_000, caps: [cap(k, 5_000_000)] })),
    ]).then((r) => [r[2], r[1]]);
    expect(bad?.status).toBe('rejected');
    expect(good).toEqual({ status: 'fulfilled', value: { ok: true, spentAfter: [1_000] } });
    expect(await spent(k)).toBe(1_000);
  });
});

(PG_ENABLED ? describe : describe.skip)('PostgreSQL batches and row locks', () => {
  let store: TestStore;
  let db: Db;
  beforeAll(async () => {
    store = await createTestStore('postgres');
    db = openDb(store.target);
    await migrate(db);
  });
  afterAll(async () => {
    await db.knex.destroy();
    await store.drop();
  });

  test("a key whose spend row another transaction holds does not hold up another key's reservations", async () => {
    await db.knex('spend_windows').insert({ subject_id: 'key_hot', window_start: DAY, spent_micros: 0 });
    const blocker = await db.knex.transaction();
    await blocker.raw("SELECT * FROM spend_windows WHERE subject_id = 'key_hot' FOR UPDATE");
    const hot = (a: string) => reserve(db, reservation(a, { micros: 1_000, caps: [cap('key_hot', 5_000_000)] }));
    const first = hot('aud_hot1');
    await new Promise((r) => setTimeout(r, 50));
    const second = hot('aud_hot2');
    let timer: NodeJS.Timeout | undefined;
    const quiet = await Promise.race([
      reserve(db, reservation('aud_quiet', { micros: 1_000, caps: [cap('key_quiet', 5_000_000)] })),
      new Promise((r) => (timer = setTimeout(() => r('blocked'), 2_000))),
    ]);
    clearTimeout(timer);
    await blocker.commit();
    expect(quiet).toEqual({ ok: true, spentAfter: [1_000] });
    const hotResults = await Promise.all([first, second]);
    expect(hotResults.map((r) => (r.ok ? r.spentAfter[0] : 0)).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([1_000, 2_000]);
  });

  test('the compiled functions are installed once, and a second migrate finds them', async () => {
    const names = (await db.knex.raw("SELECT proname FROM pg_proc WHERE proname ~ '^kb_[a-z_]+_[0-9a-f]{12}$'")) as { rows: { proname: string }[] };
    expect(names.rows.map((r) => r.proname.replace(/_[0-9a-f]{12}$/, '')).sort()).toEqual(['kb_decide_approval', 'kb_record', 'kb_reserve', 'kb_resolve', 'kb_settle', 'kb_use_approval']);
    await migrate(db);
    const again = (await db.knex.raw("SELECT count(*)::int AS n FROM pg_proc WHERE proname ~ '^kb_[a-z_]+_[0-9a-f]{12}$'")) as { rows: { n: number }[] };
    expect(again.rows[0]?.n).toBe(6);
  });
});
