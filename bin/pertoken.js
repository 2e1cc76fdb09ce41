#!/usr/bin/env node
// Thin launcher for the compiled CLI (dist/ is built by `npm ci` through the `prepare` script).
import '../dist/cli/bin.js';
