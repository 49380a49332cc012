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
