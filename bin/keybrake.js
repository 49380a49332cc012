#!/usr/bin/env node
'use strict';
let cli;
try {
  cli = require('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('keybrake: not built yet; run `npm install` (it builds) or `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
cli.run(process.argv.slice(2), process.env).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
