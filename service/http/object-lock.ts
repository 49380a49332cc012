// Waiting for a vendor object's lease (store/object-locks.ts): polled with a growing pause, given up when the
// caller goes away or after a bounded wait, so that a call stuck on one object never holds anything else.
import type { Db } from '../store/db';
import { tryLock, type ObjectLock } from '../store/object-locks';

/** The longest a call waits for another call on the same object before it is told to try again. */
const MAX_WAIT_MS = 10_000;

export async function lockObject(db: Db, lock: ObjectLock, clock: () => number, leaseMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + Math.min(MAX_WAIT_MS, leaseMs);
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    const now = clock();
    if (await tryLock(db, lock, now, now + leaseMs)) return true;
    if (signal.aborted || Date.now() + pause > deadline) return false;
    await new Promise((resume) => setTimeout(resume, pause));
  }
}
