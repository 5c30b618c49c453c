import type { Logger } from '@gatehouse/sdk';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'text' | 'json';
  write?: (line: string) => void;
}

let stderrGone = false;
let guarded = false;
/** A closed stderr (its reader went away: EPIPE) must not take the gateway down; later lines are dropped. */
const toStderr = (line: string) => {
  if (stderrGone) return;
  if (!guarded) { guarded = true; process.stderr.on('error', () => { stderrGone = true; }); }
  process.stderr.write(line + '\n');
};

/** A small structured logger: one line per entry on stderr, text for people or JSON for machines. */
export function createLogger(options: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const envLevel = process.env.GATEHOUSE_LOG_LEVEL as LogLevel | undefined;
  const level = LEVELS[options.level ?? (envLevel && envLevel in LEVELS ? envLevel : 'info')];
  const format = options.format ?? (process.env.GATEHOUSE_LOG_FORMAT === 'json' ? 'json' : 'text');
  const write = options.write ?? toStderr;
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < level) return;
    const all = { ...base, ...fields };
    if (format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...all }));
    } else {
      const rest = Object.entries(all).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg}${rest ? ' ' + rest : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}
