// The money path's writes, written once (design §5, §8). A reservation, the rows a call records, a settlement and
// a reconciliation are each a program: an ordered list of SQL statements, each run when the call's item has a field
// or once for each element of a list, each able to refuse the call when it returns no row. The same description is
// run two ways: statement by statement by this module's interpreter (SQLite), and compiled to one PL/pgSQL function
// per program that takes a whole batch of items in one round trip (plpgsql.ts, PostgreSQL).
// Either way, a refusal undoes everything that call's program wrote (its savepoint) and nothing else.
import { AUDIT_COLUMNS, INSERT_AUDIT } from './audit';

export type Row = Record<string, unknown>;
/** One call's input to a program: plain JSON (it travels to PostgreSQL as such). */
export type Item = Record<string, unknown>;

/**
 * A statement's argument: a path into the item (`guard.epoch`), or, in a step run for each element of a list, into
 * that element (`$.subjectId`). A `:bigint` or `:int` suffix types it for PostgreSQL (text otherwise).
 */
export type Arg = string;

export interface Step {
  name: string;
  /** Runs only when the item has this field (not null). */
  if?: string;
  /** Runs once for each element of this list of the item, in order. */
  each?: string;
  sql: string;
  args: readonly Arg[];
  /**
   * When the statement returns no row, the call is refused for this reason: `read` is run for the refusal's detail
   * (its first row), and what the program wrote for this call is undone.
   */
  refuse?: { reason: string; read?: { sql: string; args: readonly Arg[] } };
  /** A column of the returned row to keep, as a number (the spend after each cap, in order). */
  keep?: string;
}

export interface Program {
  name: string;
  steps: readonly Step[];
}

/** What a program came to for one item: the values kept, or the refusal (which element of a list, and its detail). */
export interface Outcome {
  kept: number[];
  refused?: string;
  at?: number;
  detail?: Row;
}

/** Where a threshold event's payload says how much was spent; the statement puts the amount in. */
export const SPENT_PLACEHOLDER = '__kb_spent_usd__';

/** The audit row's values, by position (auditValues() in audit.ts), typed for PostgreSQL. */
const AUDIT_ARGS = AUDIT_COLUMNS.map(([, type], i) => `audit.${i}${type === 'text' ? '' : `:${type}`}`);

export const SQL = {
  // A workspace without a row is at epoch 0, as a key read from it was.
  epoch: 'SELECT 1 AS current WHERE COALESCE((SELECT policy_epoch FROM workspaces WHERE id = ?), 0) = ?',
  claim: `INSERT INTO dedupe (key_id, request_hash, created_at, audit_id, idempotency_key) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (key_id, request_hash) DO UPDATE
            SET created_at = excluded.created_at, audit_id = excluded.audit_id, idempotency_key = excluded.idempotency_key,
                status = NULL, response = NULL
            WHERE dedupe.created_at < ? AND (dedupe.status IS NULL OR dedupe.status <> 0)
          RETURNING audit_id`,
  claimed: 'SELECT audit_id, idempotency_key, status, response FROM dedupe WHERE key_id = ? AND request_hash = ?',
  // Each limit is checked inside its statement, on both branches: a fresh window's insert is refused when the call
  // alone is over the limit, and an existing window's update when the total would be.
  rate: `INSERT INTO rate_windows (subject_id, window_start, requests, expires_at) SELECT ?, ?, 1, ? WHERE 1 <= ?
         ON CONFLICT (subject_id, window_start) DO UPDATE
           SET requests = rate_windows.requests + 1
           WHERE rate_windows.requests + 1 <= ?
         RETURNING requests`,
  reserve: `INSERT INTO spend_windows (subject_id, window_start, spent_micros) SELECT ?, ?, ? WHERE ? <= ?
            ON CONFLICT (subject_id, window_start) DO UPDATE
              SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
              WHERE spend_windows.spent_micros + excluded.spent_micros <= ?
            RETURNING spent_micros`,
  spent: 'SELECT spent_micros FROM spend_windows WHERE subject_id = ? AND window_start = ?',
  // An upsert: a call reserved at $0 that the vendor reports as having moved money has no spend row yet.
  adjust: `INSERT INTO spend_windows (subject_id, window_start, spent_micros) VALUES (?, ?, ?)
           ON CONFLICT (subject_id, window_start) DO UPDATE SET spent_micros = spend_windows.spent_micros + excluded.spent_micros
           RETURNING spent_micros`,
  counted: `INSERT INTO counted_objects (workspace_id, vendor, object_id, counted_micros, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (workspace_id, vendor, object_id) DO UPDATE
              SET counted_micros = counted_objects.counted_micros + excluded.counted_micros, updated_at = excluded.updated_at`,
  replay: 'UPDATE dedupe SET status = ?, response = ? WHERE key_id = ? AND request_hash = ? AND audit_id = ?',
  forget: 'DELETE FROM dedupe WHERE key_id = ? AND request_hash = ? AND audit_id = ?',
  complete: `UPDATE audit_log SET status = ?, upstream_status = ?, latency_ms = ?, settled_micros = ?, object_id = ?, upstream_request_id = ?,
               response_body = ?, reconcile = ?, code = COALESCE(?, code), message = COALESCE(?, message),
               reconcile_state = COALESCE(?, reconcile_state), reconcile_next_at = COALESCE(?, reconcile_next_at),
               reconcile_note = COALESCE(?, reconcile_note)
             WHERE id = ?`,
  resolve: `UPDATE audit_log SET reconcile_state = ?, reconcile_next_at = NULL, reconcile_note = ?, settled_micros = ?, object_id = COALESCE(?, object_id)
            WHERE id = ? AND reconcile_state IN ('pending', 'manual')
            RETURNING id`,
  resolveReplay: 'UPDATE dedupe SET status = ?, response = ? WHERE audit_id = ?',
  resolveForget: 'DELETE FROM dedupe WHERE audit_id = ?',
  event: `INSERT INTO webhook_events (id, workspace_id, event_key, type, key_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (event_key) DO NOTHING`,
  // A threshold event, written when the spend row has reached it, with the spend in dollars put into its payload
  // (integer arithmetic, the same text on both databases: 12.340000).
  threshold: `INSERT INTO webhook_events (id, workspace_id, event_key, type, key_id, payload, created_at)
              SELECT ?, ?, ?, ?, ?, replace(?, '"${SPENT_PLACEHOLDER}"', (s.spent_micros / 1000000) || '.' ||
                       substr('00000' || (s.spent_micros % 1000000), length('00000' || (s.spent_micros % 1000000)) - 5)), ?
              FROM spend_windows s WHERE s.subject_id = ? AND s.window_start = ? AND s.spent_micros >= ?
              ON CONFLICT (event_key) DO NOTHING`,
  approval: `INSERT INTO approvals (id, workspace_id, key_id, key_label, vendor, method, path, request_hash, amount_micros, summary, status,
                                     created_at, expires_at, request_audit_id, reserved_caps, reserved_micros)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
  // An approved call forwarded once: only an approval still approved and unexpired is used, by one call.
  useApproval: `UPDATE approvals SET status = 'used', used_audit_id = ? WHERE id = ? AND status = 'approved' AND expires_at > ? RETURNING reserved_micros`,
  // A decision (approve, deny) or an expiry, each from the states it may follow, within the approval's lifetime or after it.
  decideApproval: `UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, reason = ?
                   WHERE id = ? AND status IN (?, ?) AND expires_at > ? AND expires_at <= ? RETURNING id`,
  // A delivery is queued only with the event it belongs to (an event already there keeps its own deliveries).
  delivery: `INSERT INTO webhook_outbox (id, event_id, workspace_id, url, status, attempts, next_attempt_at, created_at)
             SELECT ?, ?, ?, ?, 'pending', 0, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_events WHERE id = ?)`,
} as const;

/** Steps several programs share. */
const STEP = {
  // A key read under another policy epoch (revoked or changed since) writes nothing: the call is decided again.
  epoch: { name: 'epoch', if: 'guard', sql: SQL.epoch, args: ['guard.workspaceId', 'guard.epoch:bigint'], refuse: { reason: 'stale' } },
  audit: { name: 'audit', if: 'audit', sql: INSERT_AUDIT, args: AUDIT_ARGS },
  event: { name: 'event', each: 'events', sql: SQL.event, args: ['$.id', '$.workspaceId', '$.eventKey', '$.type', '$.keyId', '$.payload', '$.createdAt:bigint'] },
  delivery: { name: 'delivery', each: 'deliveries', sql: SQL.delivery, args: ['$.id', '$.eventId', '$.workspaceId', '$.url', '$.createdAt:bigint', '$.createdAt:bigint', '$.eventId'] },
  // Every spend row the call reserved on, moved by the same difference.
  adjust: { name: 'adjust', each: 'caps', sql: SQL.adjust, args: ['$.subjectId', '$.windowStart', 'delta:bigint'] },
} satisfies Record<string, Step>;

/**
 * A reservation (ledger.ts builds its item): the key's policy epoch (a key read under another epoch writes nothing),
 * the dedupe claim, the rate window, each cap (never more than the cap), then, when all of them took the call, its
 * audit row, the approval it asks for (if it waits for a person), the cap.threshold events its spend reached and the
 * events it raises, with their deliveries.
 */
export const RESERVE: Program = {
  name: 'reserve',
  steps: [
    STEP.epoch,
    {
      name: 'claim',
      if: 'dedupe',
      sql: SQL.claim,
      args: ['dedupe.keyId', 'dedupe.hash', 'dedupe.now:bigint', 'dedupe.auditId', 'dedupe.idempotencyKey', 'dedupe.cutoff:bigint'],
      refuse: { reason: 'duplicate', read: { sql: SQL.claimed, args: ['dedupe.keyId', 'dedupe.hash'] } },
    },
    { name: 'rate', if: 'rate', sql: SQL.rate, args: ['rate.subjectId', 'rate.windowStart', 'rate.expiresAt:bigint', 'rate.limit:int', 'rate.limit:int'], refuse: { reason: 'rate' } },
    {
      name: 'cap',
      each: 'caps',
      sql: SQL.reserve,
      args: ['$.subjectId', '$.windowStart', 'micros:bigint', 'micros:bigint', '$.capMicros:bigint', '$.capMicros:bigint'],
      refuse: { reason: 'cap', read: { sql: SQL.spent, args: ['$.subjectId', '$.windowStart'] } },
      keep: 'spent_micros',
    },
    STEP.audit,
    {
      name: 'approval',
      if: 'approval',
      sql: SQL.approval,
      args: [
        'approval.id', 'approval.workspaceId', 'approval.keyId', 'approval.keyLabel', 'approval.vendor', 'approval.method', 'approval.path', 'approval.hash',
        'approval.amountMicros:bigint', 'approval.summary', 'approval.createdAt:bigint', 'approval.expiresAt:bigint', 'approval.auditId', 'approval.reservedCaps', 'micros:bigint',
      ],
    },
    STEP.event,
    {
      name: 'threshold',
      each: 'thresholds',
      sql: SQL.threshold,
      args: ['$.id', '$.workspaceId', '$.eventKey', '$.type', '$.keyId', '$.payload', '$.createdAt:bigint', '$.subjectId', '$.windowStart', '$.minSpentMicros:bigint'],
    },
    STEP.delivery,
  ],
};

/** What a call records on its own (a refusal): its audit row and the alert events it raised, each event once. */
export const RECORD: Program = {
  name: 'record',
  steps: [STEP.audit, STEP.event, STEP.delivery],
};

/** A settlement: every cap moved by the difference, the vendor object counted, the dedupe claim and audit row completed. */
export const SETTLE: Program = {
  name: 'settle',
  steps: [
    { ...STEP.adjust, keep: 'spent_micros' },
    { name: 'counted', if: 'counted', sql: SQL.counted, args: ['counted.workspaceId', 'counted.vendor', 'counted.objectId', 'counted.micros:bigint', 'now:bigint'] },
    { name: 'replay', if: 'replay', sql: SQL.replay, args: ['replay.status:int', 'replay.response', 'replay.keyId', 'replay.hash', 'auditId'] },
    { name: 'forget', if: 'forget', sql: SQL.forget, args: ['forget.keyId', 'forget.hash', 'auditId'] },
    {
      name: 'complete',
      sql: SQL.complete,
      args: [
        'done.status:int', 'done.upstreamStatus:int', 'done.latencyMs:int', 'done.settledMicros:bigint', 'done.objectId', 'done.upstreamRequestId',
        'done.responseBody', 'done.reconcile:int', 'done.code', 'done.message', 'done.reconcileState', 'done.reconcileNextAt:bigint', 'done.reconcileNote', 'auditId',
      ],
    },
  ],
};

/** A call whose outcome was unknown, resolved once (refused when it already was): the spend moved, the claim answered. */
export const RESOLVE: Program = {
  name: 'resolve',
  steps: [
    { name: 'resolve', sql: SQL.resolve, args: ['state', 'note', 'finalMicros:bigint', 'objectId', 'auditId'], refuse: { reason: 'resolved' } },
    STEP.adjust,
    { name: 'replay', if: 'replay', sql: SQL.resolveReplay, args: ['replay.status:int', 'replay.response', 'auditId'] },
    { name: 'forget', if: 'forget', sql: SQL.resolveForget, args: ['auditId'] },
  ],
};

/** A call forwarded under its approval: the key's epoch checked, the approval used (once), and the call's audit row. */
export const USE_APPROVAL: Program = {
  name: 'use_approval',
  steps: [
    STEP.epoch,
    { name: 'use', sql: SQL.useApproval, args: ['auditId', 'approvalId', 'now:bigint'], refuse: { reason: 'unusable' } },
    STEP.audit,
  ],
};

/** An approval decided or expired, once; when it will never be forwarded, its reservation is released. */
export const DECIDE_APPROVAL: Program = {
  name: 'decide_approval',
  steps: [
    { name: 'decide', sql: SQL.decideApproval, args: ['to', 'now:bigint', 'by', 'reason', 'id', 'from.0', 'from.1', 'after:bigint', 'until:bigint'], refuse: { reason: 'decided' } },
    STEP.adjust,
  ],
};

export const PROGRAMS: readonly Program[] = [RESERVE, RECORD, SETTLE, RESOLVE, USE_APPROVAL, DECIDE_APPROVAL];

/** An argument's path and PostgreSQL type. */
export function parseArg(arg: Arg): { path: string[]; fromElement: boolean; type: 'text' | 'bigint' | 'int' } {
  const [ref = '', type = 'text'] = arg.split(':');
  const fromElement = ref.startsWith('$.');
  return { path: (fromElement ? ref.slice(2) : ref).split('.'), fromElement, type: type as 'text' | 'bigint' | 'int' };
}

type Getter = (item: Item, element: unknown) => unknown;
const getters = new WeakMap<readonly Arg[], Getter[]>();

function getterOf(arg: Arg): Getter {
  const { path, fromElement } = parseArg(arg);
  return (item, element) => {
    let v: unknown = fromElement ? element : item;
    for (const p of path) v = v === null || v === undefined ? undefined : (v as Record<string, unknown>)[p];
    return v === undefined ? null : v;
  };
}

function valuesOf(args: readonly Arg[], item: Item, element: unknown): unknown[] {
  let gs = getters.get(args);
  if (!gs) {
    gs = args.map(getterOf);
    getters.set(args, gs);
  }
  return gs.map((g) => g(item, element));
}

/** Runs one statement: returns its first row when `returns`, else runs it for its effect. */
export type Exec = (sql: string, values: unknown[], returns: boolean) => Row | undefined;

/**
 * Runs a program for one item, statement by statement (SQLite's driver; PostgreSQL runs the compiled function). On a
 * refusal it stops and says so; the driver undoes the item's writes (its savepoint).
 */
export function interpret(program: Program, item: Item, exec: Exec): Outcome {
  const kept: number[] = [];
  for (const step of program.steps) {
    if (step.if !== undefined && (item[step.if] === undefined || item[step.if] === null)) continue;
    const list: readonly unknown[] = step.each === undefined ? ONE : ((item[step.each] as unknown[] | undefined) ?? []);
    const returns = step.refuse !== undefined || step.keep !== undefined;
    for (let at = 0; at < list.length; at++) {
      const element = list[at];
      const row = exec(step.sql, valuesOf(step.args, item, element), returns);
      if (row === undefined && step.refuse) {
        const read = step.refuse.read;
        const detail = read ? exec(read.sql, valuesOf(read.args, item, element), true) : undefined;
        return { kept, refused: step.refuse.reason, at, ...(detail ? { detail } : {}) };
      }
      if (step.keep !== undefined) kept.push(Number(row?.[step.keep] ?? 0));
    }
  }
  return { kept };
}

/** A step run once (not for each element of a list). */
const ONE: readonly unknown[] = [undefined];
