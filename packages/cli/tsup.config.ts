import { defineConfig } from 'tsup';
import base from '../../tsup.base.js';

export default defineConfig({ ...(base as object), entry: ['src/cli.ts'], dts: false, banner: { js: '#!/usr/bin/env node' } });
