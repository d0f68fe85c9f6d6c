/**
 * `attach()`: one handle per target. Attaching twice reconfigures the same handle, so a context
 * never carries two sets of native state.
 */
import { publish } from '../common/events';
import { type AttachTarget, resolveTarget } from '../common/target';
import { type AttachOptions, parseAttachOptions } from './options';
import { handles, SessionCache } from './session-cache';

export type { FlushOptions, SessionCacheEvents, SessionCacheListener } from './session-cache';
export { SessionCache } from './session-cache';
export type { CacheCounters, ResumptionFailures, ResumptionProtocol, ResumptionStats, SessionCacheStats, SettingsStats } from './stats';
export { RESUMPTION_FAILURE_REASONS } from './stats';

/**
 * Attaches the session cache to a tls.Server, https.Server, http2 secure server or
 * tls.SecureContext and applies `options`. Attaching again to the same target returns the same
 * handle, reconfigured with the new options.
 * @throws TypeError for a target or option of the wrong type; RangeError for an option out of range.
 */
export function attach(target: AttachTarget, options?: AttachOptions): SessionCache {
  const { server, context } = resolveTarget(target);
  const existing = (server && handles.get(server)) ?? handles.get(context.context);
  if (existing?.attached) return options === undefined ? existing : existing.configure(options);
  // Validated once, here: the handle gets the parsed request, never the raw options.
  const handle = SessionCache._create(
    server,
    context,
    parseAttachOptions(options, ['cache', 'tickets', 'fleet', 'shared', 'maxSessionAgeSeconds', 'sessionIdContext']),
  );
  if (server) handles.set(server, handle);
  handles.set(context.context, handle);
  publish(handle, 'attach', { options: handle.options });
  return handle;
}
