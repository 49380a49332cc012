// PostgreSQL's group commit (store/pg-direct.ts): reservations that arrive together share one call of
// kb_reserve_batch, each decided on its own; a batch with a bad item falls back to one call per item.
import { auditRow, type AuditEntry } from '../../service/store/audit';
import { openDb, type Db } from '../../service/store/db';
import { migrate } from '../../service/store/migrations';
import { pgReserves, type PgReserve } from '../../service/store/pg-direct';
import { createTestStore, PG_ENABLED, type TestStore } from '../helpers/stores';

const entry = (id: string, over: Partial<AuditEntry> = {}): AuditEntry => ({
  id, workspaceId: 'default', ts: 1, keyId: 'key_batch', keyLabel: 'batch', vendor: 'stripe', method: 'POST', path: '/v1/charges',
  decision: 'allow', code: null, message: null, estimatedMicros: 1_000_000, reservedMicros: 0, windowStart: '2026-11-27', budgetId: null,
  budgetWindow: null, status: null, latencyMs: null, runId: null, conversationId: null, userRef: null, idempotencyKey: null, requestBody: null, ...over,
});

(PG_ENABLED ? describe : describe.skip)('PostgreSQL reservation batches', () => {
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

  const item = (id: string, micros: number, over: Partial<AuditEntry> = {}, epoch?: number): PgReserve => ({
    cap: { subjectId: 'key_batch', windowStart: '2026-11-27', capMicros: 5_000_000 },
    micros,
    row: { ...auditRow(entry(id, over)), reserved_micros: micros },
    ...(epoch === undefined ? {} : { guard: { workspaceId: 'default', epoch } }),
  });
  const audited = async (): Promise<string[]> => (await db.knex('audit_log').orderBy('id').pluck('id')) as string[];

  test('ten $1 reservations at once against a $5 cap: exactly five stand, each with its audit row', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pgReserves(db).run(item(`aud_b${i}`, 1_000_000))));
    expect(results.filter((r) => r.ok).length).toBe(5);
    expect(results.filter((r) => !r.ok && !r.stale).length).toBe(5);
    const spent = (await db.knex('spend_windows').where({ subject_id: 'key_batch' }).first('spent_micros')) as { spent_micros: number };
    expect(Number(spent.spent_micros)).toBe(5_000_000);
    const ok = results.map((r, i) => (r.ok ? `aud_b${i}` : null)).filter((x): x is string => x !== null);
    expect(await audited()).toEqual(ok.sort());
  });

  test("a key whose spend row is held does not hold up another key's reservations", async () => {
    await db.knex('spend_windows').del();
    await db.knex('spend_windows').insert({ subject_id: 'key_hot', window_start: '2026-11-27', spent_micros: 0 });
    const hot = (id: string): PgReserve => ({ ...item(id, 1_000), cap: { subjectId: 'key_hot', windowStart: '2026-11-27', capMicros: 5_000_000 } });
    // Another transaction holds the hot key's row, as a slow batch elsewhere would.
    const blocker = await db.knex.transaction();
    await blocker.raw("SELECT * FROM spend_windows WHERE subject_id = 'key_hot' FOR UPDATE");
    const first = pgReserves(db).run(hot('aud_hot1'));
    await new Promise((r) => setTimeout(r, 50));
    // Next turn: the hot key again, and a quiet key; the quiet one must not wait for the hot row.
    const second = pgReserves(db).run(hot('aud_hot2'));
    let timer: NodeJS.Timeout | undefined;
    const quiet = await Promise.race([pgReserves(db).run(item('aud_quiet', 1_000)), new Promise((r) => (timer = setTimeout(() => r('blocked'), 2_000)))]);
    clearTimeout(timer);
    await blocker.commit();
    expect(quiet).toEqual({ ok: true, spent: 1_000 });
    // Both hot reservations stand once the row is free; which of the two waiters PostgreSQL lets in first is its own.
    const hotResults = await Promise.all([first, second]);
    expect(hotResults.map((r) => (r.ok ? r.spent : 0)).sort((a, b) => a - b)).toEqual([1_000, 2_000]);
  });

  test('a stale epoch writes nothing; a bad item fails alone and the rest of its batch stands', async () => {
    await db.knex('spend_windows').del();
    await db.knex('audit_log').del();
    const [stale, bad, good] = await Promise.all([
      pgReserves(db).run(item('aud_stale', 1_000_000, {}, 7)),
      // method is varchar(10): PostgreSQL rejects the row, which aborts the batch's transaction.
      pgReserves(db).run(item('aud_bad', 1_000_000, { method: 'X'.repeat(11) })).then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
      pgReserves(db).run(item('aud_good', 1_000_000, {}, 0)),
    ]);
    expect(stale).toEqual({ ok: false, stale: true });
    expect(bad).toMatch(/too long/);
    expect(good).toEqual({ ok: true, spent: 1_000_000 });
    expect(await audited()).toEqual(['aud_good']);
    const spent = (await db.knex('spend_windows').where({ subject_id: 'key_batch' }).first('spent_micros')) as { spent_micros: number };
    expect(Number(spent.spent_micros)).toBe(1_000_000);
  });
});
