// The service's layers point one way: each may import only from layers below it (or its own folder), so that the
// vendors' descriptions and the policy never depend on the store, the store never on the routes, and so on. The
// layers, bottom up: the shared basics (errors, crypto), vendors/, policy/, store/, alerts/, proxy/, mcp/,
// reconcile/, the configuration, http/, then app, server and main. Tables are read and written in store/ only, and the pure
// layers (policy/, proxy/) take nothing but types from the store.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SERVICE = resolve(__dirname, '..', 'service');

const LAYERS: [RegExp, string, number][] = [
  [/^(errors|crypto|zod-words|version)\.ts$/, 'basics', 0],
  [/^vendors\//, 'vendors', 1],
  [/^policy\//, 'policy', 2],
  [/^store\//, 'store', 3],
  [/^alerts\//, 'alerts', 4],
  [/^proxy\//, 'proxy', 5],
  [/^mcp\//, 'mcp', 6],
  [/^reconcile\//, 'reconcile', 7],
  [/^config(-file)?\.ts$/, 'config', 8],
  [/^http\//, 'http', 9],
  [/^app\.ts$/, 'app', 10],
  [/^server\.ts$/, 'server', 11],
  [/^main\.ts$/, 'main', 12],
];

function layerOf(file: string): { name: string; rank: number } {
  const found = LAYERS.find(([re]) => re.test(file));
  if (!found) throw new Error(`${file} is in no layer: add it to the test's LAYERS`);
  return { name: found[1], rank: found[2] };
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every import of another service file, resolved, with whether it brings types only. */
function imports(): Import[] {
  const out: Import[] = [];
  for (const path of files(SERVICE)) {
    const text = readFileSync(path, 'utf8');
    const from = relative(SERVICE, path);
    const re = /^(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gms;
    for (const m of text.matchAll(re)) {
      const target = relative(SERVICE, resolve(dirname(path), m[3] as string));
      const to = [`${target}.ts`, join(target, 'index.ts')].find((t) => {
        try {
          return statSync(join(SERVICE, t)).isFile();
        } catch {
          return false;
        }
      });
      if (!to) throw new Error(`${from}: cannot resolve ${m[3]}`);
      out.push({ from, to, typeOnly: m[2] !== undefined });
    }
  }
  return out;
}

describe('the service layers', () => {
  const all = imports();

  test('the scan finds the imports it judges', () => {
    expect(all.length).toBeGreaterThan(200);
    expect(all).toContainEqual({ from: 'http/proxy-call.ts', to: 'store/ledger.ts', typeOnly: false });
  });

  test('no import points up a layer', () => {
    const wrong = all.filter(({ from, to }) => layerOf(to).rank > layerOf(from).rank).map(({ from, to }) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  test('policy/, proxy/ and mcp/ compute: from the store they take types only', () => {
    const wrong = all.filter(({ from, to, typeOnly }) => /^(policy|proxy|mcp)\//.test(from) && to.startsWith('store/') && !typeOnly).map(({ from, to }) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  test('tables are read and written in store/ only', () => {
    const outside = files(SERVICE)
      .map((p) => relative(SERVICE, p))
      .filter((p) => !p.startsWith('store/') && /\bknex\b/i.test(readFileSync(join(SERVICE, p), 'utf8')));
    expect(outside).toEqual([]);
  });

  test('a file of the wrong layer is caught (the check itself can fail)', () => {
    expect(layerOf('store/ledger.ts').rank).toBeGreaterThan(layerOf('policy/refusals.ts').rank);
    expect(() => layerOf('newdir/x.ts')).toThrow(/no layer/);
  });
});
