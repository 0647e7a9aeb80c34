#!/usr/bin/env node
'use strict';
// Runs the compiled CLI when the app is built (deployments), else the TypeScript sources via tsx
// (a fresh clone after `npm ci`), so `npx dynamics-sync` works in both.
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'shared', 'cli', 'cli.js');
let cli;
if (fs.existsSync(built)) {
  cli = require(built);
} else {
  require('tsx/cjs');
  cli = require(path.join(__dirname, '..', 'shared', 'cli', 'cli.ts'));
}
cli.main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
