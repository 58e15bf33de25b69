/** The notifier registry: the only place that maps a notifier type to its factory. */
import type { NotifierConfig } from '../../config/types.js';
import type { Notifier } from '../types.js';
import { createCommandNotifier } from './command.js';
import { createEmailNotifier } from './email.js';
import { createNtfyNotifier } from './ntfy.js';
import { createSlackNotifier } from './slack.js';
import type { NotifierDeps, NotifierFactory } from './types.js';
import { createWebhookNotifier } from './webhook.js';

export type { NotifierDeps } from './types.js';
export { NotifyError } from './types.js';

export const NOTIFIERS = {
  webhook: createWebhookNotifier,
  slack: createSlackNotifier,
  ntfy: createNtfyNotifier,
  email: createEmailNotifier,
  command: createCommandNotifier,
} as const satisfies { readonly [T in NotifierConfig['type']]: NotifierFactory<T> };

/** The notifier for one configured destination. */
export function createNotifier(config: NotifierConfig, deps: NotifierDeps): Notifier {
  // TypeScript cannot tie `config.type` to the factory it selects; the map's `satisfies` does.
  const factory = NOTIFIERS[config.type] as (config: NotifierConfig, deps: NotifierDeps) => Notifier;
  return factory(config, deps);
}
