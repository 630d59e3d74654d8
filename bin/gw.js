#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  // Explicit exit: idle keep-alive client connections must not keep a stopped gateway alive.
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exit(1);
  },
);
