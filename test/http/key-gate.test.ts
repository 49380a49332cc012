import { KeyGate } from '../../service/http/key-gate';

test('a key gets at most `limit` calls in progress; the others wait their turn, in order; other keys pass', async () => {
  const gate = new KeyGate(2);
  const order: string[] = [];
  const task = async (key: string, name: string, release: Promise<void>): Promise<void> => {
    await gate.enter(key);
    order.push(`start ${name}`);
    await release;
    order.push(`end ${name}`);
    gate.leave(key);
  };
  let open!: () => void;
  const hold = new Promise<void>((r) => (open = r));
  const running = [task('hot', 'h1', hold), task('hot', 'h2', hold), task('hot', 'h3', Promise.resolve()), task('quiet', 'q1', Promise.resolve())];
  await new Promise((r) => setImmediate(r));
  expect(gate.size('hot')).toEqual({ active: 2, waiting: 1 });
  expect(order).toEqual(['start h1', 'start h2', 'start q1', 'end q1']);
  open();
  await Promise.all(running);
  expect(order.slice(4)).toEqual(['end h1', 'end h2', 'start h3', 'end h3']);
  expect(gate.size('hot')).toEqual({ active: 0, waiting: 0 });
});

test('a key alone keeps its parallelism; while other keys are busy it gets two at a time, and more once it is alone again', async () => {
  let now = 10_000;
  const gate = new KeyGate(8, 2, () => now);
  const holds: Record<string, (() => void)[]> = {};
  const task = async (key: string): Promise<void> => {
    await gate.enter(key);
    await new Promise<void>((r) => (holds[key] ??= []).push(r));
    gate.leave(key);
  };
  const release = (key: string, n = Infinity): void => (holds[key] ?? []).splice(0, n).forEach((r) => r());
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  const first = Array.from({ length: 6 }, () => task('workflow'));
  await tick();
  expect(gate.size('workflow')).toEqual({ active: 6, waiting: 0 });

  // Other keys become busy: each gets two slots, and so do the workflow's next calls.
  const quiet = task('quiet');
  const loop = Array.from({ length: 3 }, () => task('loop'));
  await tick();
  const more = Array.from({ length: 3 }, () => task('workflow'));
  await tick();
  expect(gate.size('quiet')).toEqual({ active: 1, waiting: 0 });
  expect(gate.size('loop')).toEqual({ active: 2, waiting: 1 });
  expect(gate.size('workflow')).toEqual({ active: 6, waiting: 3 });

  release('workflow');
  await tick();
  expect(gate.size('workflow')).toEqual({ active: 2, waiting: 1 });

  // The others finish, but they called a moment ago: the workflow still shares.
  release('quiet');
  release('loop');
  await tick();
  release('loop');
  await tick();
  expect(gate.size('loop')).toEqual({ active: 0, waiting: 0 });
  const later = Array.from({ length: 4 }, () => task('workflow'));
  await tick();
  expect(gate.size('workflow')).toEqual({ active: 2, waiting: 5 });
  // Two seconds without another key: the workflow is alone again, and its waiting calls go in, up to 8.
  now += 2_000;
  release('workflow', 1);
  await tick();
  expect(gate.size('workflow')).toEqual({ active: 6, waiting: 0 });
  while (gate.size('workflow').active > 0) {
    release('workflow');
    await tick();
  }
  await Promise.all([...first, quiet, ...more, ...loop, ...later]);
  expect(gate.size('workflow')).toEqual({ active: 0, waiting: 0 });
});
