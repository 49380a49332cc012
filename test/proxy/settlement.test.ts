// A call is answered as soon as the vendor answers: its reservation and audit row were committed before it was
// forwarded, and a settlement that only completes the audit row follows off the response path. The admin API of
// the same instance waits for it, so it never reports a call it answered as unsettled.
import { Client } from 'pg';
import { call, useStripeService, type TestService } from '../helpers/service';
import { PG_ENABLED } from '../helpers/stores';

(PG_ENABLED ? describe : describe.skip)('settlement off the response path [postgres]', () => {
  const ctx = useStripeService('postgres');
  let svc: TestService;
  beforeAll(() => ({ svc } = ctx));

  test('a charge is answered while its settlement is held up; the admin API waits for the settlement', async () => {
    const key = await svc.issueKey({ vendor: 'stripe', daily_usd_cap: 50, allowed_endpoints: ['POST /v1/charges'], dedupe_window: 'off', label: 'late-settle' });
    // Hold the table the charge's settlement writes (its counted object); the reservation does not touch it.
    const blocker = new Client({ connectionString: (svc.store.target as { url: string }).url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE counted_objects IN EXCLUSIVE MODE');
    let released = false;
    try {
      const res = await call(svc.url, '/stripe/v1/charges', { key: key.vault_key, form: 'amount=700&currency=usd&source=tok_visa' });
      expect(res.status).toBe(200);
      const row = (await svc.running.db.knex('audit_log').where({ key_id: key.id }).first('status', 'reserved_micros')) as { status: number | null; reserved_micros: number };
      expect([row.status, Number(row.reserved_micros)]).toEqual([null, 7_000_000]);
      const shown = svc.admin().get(`/vault/keys/${key.id}`).then((r) => ({ released, body: r.body as { spent_today_usd: number } }));
      await new Promise((r) => setTimeout(r, 300));
      released = true;
      await blocker.query('COMMIT');
      const seen = await shown;
      expect(seen.released).toBe(true);
      expect(seen.body.spent_today_usd).toBe(7);
      const settled = (await svc.running.db.knex('audit_log').where({ key_id: key.id }).first('status', 'settled_micros')) as { status: number; settled_micros: number };
      expect([settled.status, Number(settled.settled_micros)]).toEqual([200, 7_000_000]);
    } finally {
      if (!released) await blocker.query('ROLLBACK');
      await blocker.end();
    }
  });
});
