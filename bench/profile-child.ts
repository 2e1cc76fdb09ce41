// Child process for the profile benchmark: stream one file through `profileTrace` and report
// rows/s and peak RSS of this process alone (the generator runs in the parent).
import { profileTrace } from '../src/workload/profile.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-child <file>');
const t0 = process.hrtime.bigint();
const p = await profileTrace(file);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const maxRssMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(
  JSON.stringify({ rows: p.requests, seconds, rowsPerS: p.requests / seconds, maxRssMB }) + '\n',
);
