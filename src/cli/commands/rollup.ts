/**
 * `wmn rollup --rebuild`: recompute the rollups from the raw rows. The rollups are kept current as rows
 * arrive; this is for after a manual change to favicon_metrics (a bulk import with the trigger
 * disabled, a restore, an edit). Hours whose raw rows retention deleted keep their rollups.
 */
import { CONFIG_OPTION, type Command, EXIT, openConfigured, stringOpt, UsageError } from '../command.js';

const HOUR_MS = 3_600_000;

export const rollupCommand: Command = {
  path: ['rollup'],
  usage: 'rollup --rebuild [--from TIME] [--to TIME] [--config FILE]',
  summary: 'Rebuild the minute, hour and day rollups from the raw rows.',
  help: [
    '  --rebuild           recompute every rollup of the range from favicon_metrics (required)',
    '  --from TIME         start (ISO 8601, e.g. 2026-10-01 or 2026-10-01T12:00Z); default: the oldest row',
    '  --to TIME           end (exclusive); default: the newest row',
    CONFIG_OPTION.help,
  ].join('\n'),
  options: {
    rebuild: { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
    ...CONFIG_OPTION.options,
  },
  async run(args) {
    if (args.values.rebuild !== true) throw new UsageError('say --rebuild: it is the only rollup action');
    const from = timeOpt(stringOpt(args, 'from'), '--from');
    const to = timeOpt(stringOpt(args, 'to'), '--to');
    if (from && to && from >= to) throw new UsageError('--from must be before --to');
    const { store } = await openConfigured(args, { guest: true });
    try {
      const span = await store.rawSpan();
      if (!span) {
        process.stdout.write('no raw rows: nothing to rebuild\n');
        return EXIT.ok;
      }
      const first = floorHour(from ?? span.first);
      const end = to ?? new Date(span.last.getTime() + 1);
      const hours = Math.ceil((end.getTime() - first.getTime()) / HOUR_MS);
      let rebuilt = 0;
      for (let i = 0; i < hours; i++) {
        if (await store.rebuildHour(new Date(first.getTime() + i * HOUR_MS))) rebuilt++;
        if (process.stderr.isTTY || (i + 1) % 24 === 0 || i + 1 === hours)
          process.stderr.write(`\rrollup: ${i + 1}/${hours} hours read, ${rebuilt} rebuilt`);
      }
      process.stderr.write('\n');
      process.stdout.write(
        `rebuilt the rollups of ${rebuilt} hour(s) from ${first.toISOString()} to ${end.toISOString()}\n`,
      );
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};

function timeOpt(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`${name} ${JSON.stringify(text)} is not a time; write e.g. 2026-10-01T00:00Z`);
  return date;
}

function floorHour(date: Date): Date {
  return new Date(Math.floor(date.getTime() / HOUR_MS) * HOUR_MS);
}
