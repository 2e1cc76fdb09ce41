import type { TraceFormat } from '../types.js';
import { agentCallsReader } from './agent-calls.js';
import { azureReader } from './azure.js';
import { bailianReader } from './bailian.js';
import { burstgptReader } from './burstgpt.js';
import type { TraceReader } from './format.js';
import { genericReader } from './generic.js';
import { mooncakeReader } from './mooncake.js';
import { splitwiseReader } from './splitwise.js';
import { tracelabReader } from './tracelab.js';
import { vidurReader } from './vidur.js';
import { wekaRequestsReader } from './weka-requests.js';
import { wekaSessionReader } from './weka-session.js';

/** One reader per format. */
export const READERS: Record<TraceFormat, TraceReader> = {
  generic: genericReader,
  azure: azureReader,
  mooncake: mooncakeReader,
  bailian: bailianReader,
  burstgpt: burstgptReader,
  vidur: vidurReader,
  splitwise: splitwiseReader,
  'weka-requests': wekaRequestsReader,
  'weka-session': wekaSessionReader,
  'agent-calls': agentCallsReader,
  tracelab: tracelabReader,
};
