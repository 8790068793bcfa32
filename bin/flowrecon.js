#!/usr/bin/env node
// The installed entry point. The sources are TypeScript run through tsx's
// loader, so a fresh clone works after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
const code = await main(process.argv);
// Exit explicitly: a keep-alive socket or a stray timer must not hold a finished command open.
process.exit(code);
