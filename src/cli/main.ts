#!/usr/bin/env node
/** `wmn` entry point: routes to a sub-command, parses its options strictly, maps errors to exit codes. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/types.js';
import { errorText } from '../log.js';
import { StoreError } from '../store/types.js';
import { VERSION } from '../version.js';
import { type Command, EXIT, UsageError } from './command.js';
import { checkCommand } from './commands/check.js';
import { configCheckCommand } from './commands/config-check.js';
import { migrateCommand } from './commands/migrate.js';
import { reportCommand } from './commands/report.js';
import { rollupCommand } from './commands/rollup.js';
import { runCommand } from './commands/run.js';

const COMMANDS: readonly Command[] = [
  runCommand,
  checkCommand,
  migrateCommand,
  configCheckCommand,
  rollupCommand,
  reportCommand,
];

function overview(): string {
  const rows = COMMANDS.map((c) => `  wmn ${c.usage.padEnd(48)} ${c.summary}`);
  return [
    `wmn ${VERSION} — watch my network: is my internet connection working, how well, and since when?`,
    '',
    'Usage:',
    ...rows,
    '',
    'Every command takes --help. wmn --version prints the version.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [
    `Usage: wmn ${c.usage}`,
    '',
    c.summary,
    '',
    'Options:',
    c.help,
    '  -h, --help   show this help',
  ].join('\n');
}

function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | null {
  for (const command of [...COMMANDS].sort((a, b) => b.path.length - a.path.length)) {
    if (command.path.every((word, i) => argv[i] === word))
      return { command, rest: argv.slice(command.path.length) };
  }
  return null;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${overview()}\n`);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`wmn: unknown command '${argv.join(' ')}'\n\n${overview()}\n`);
    return EXIT.usage;
  }
  const { command, rest } = found;
  try {
    const args = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    if (args.values.help) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return EXIT.ok;
    }
    if (args.values.version) {
      process.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    }
    return await command.run(args);
  } catch (err) {
    return reportError(err, command);
  }
}

function reportError(err: unknown, command: Command): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`wmn: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(
      `wmn ${command.path.join(' ')}: ${(err as Error).message}\nTry: wmn ${command.path.join(' ')} --help\n`,
    );
    return EXIT.usage;
  }
  if (err instanceof StoreError) {
    process.stderr.write(`wmn: database: ${errorText(err)}\n`);
    return EXIT.failure;
  }
  process.stderr.write(`wmn: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failure;
}

process.exitCode = await main(process.argv.slice(2));
