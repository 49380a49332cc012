// Golden files: the test fails when generated output changes; UPDATE_GOLDEN=1 rewrites them (then review the diff).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const DIR = join(__dirname, '..', 'fixtures', 'golden');

export function expectGolden(name: string, actual: string): void {
  const file = join(DIR, name);
  if (process.env.UPDATE_GOLDEN === '1' && !process.env.CI) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  if (!existsSync(file)) throw new Error(`golden file ${name} is missing; run UPDATE_GOLDEN=1 npx jest test/openapi`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}
