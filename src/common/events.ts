/**
 * Events: the library publishes what happens to an attached server on `node:diagnostics_channel`
 * channels with fixed names, and emits the same events on the handle (a SessionCache is an
 * EventEmitter). It never prints anything itself. Publishing costs nothing when nobody listens:
 * the message object is only built when a channel has subscribers or the handle has listeners.
 */
import * as diagnosticsChannel from 'node:diagnostics_channel';
import type { EventEmitter } from 'node:events';

/** Channel names. Subscribe with `diagnostics_channel.subscribe(Channels.attach, fn)`. */
export const Channels = Object.freeze({
  /** A handle was attached to a server or context. Message: { cache, options }. */
  attach: 'tls-resumption:attach',
  /** A handle was detached; Node's settings are back. Message: { cache }. */
  detach: 'tls-resumption:detach',
  /** `configure()` changed settings. Message: { cache, options } (the options now in force). */
  configure: 'tls-resumption:configure',
  /** `flush()` dropped sessions. Message: { cache, all, removed }. */
  flush: 'tls-resumption:flush',
  /** The ticket key ring rotated: a new key encrypts. Message: { cache, keyId, mode } (the id is the public key name; key bytes never). */
  ticketRotate: 'tls-resumption:ticket-rotate',
  /** A ticket key left the ring. Message: { cache, keyId, reason: 'aged-out' | 'removed', mode }. */
  keyRemoved: 'tls-resumption:key-removed',
  /** A fleet (Redis) operation failed; the connection fell back to a full handshake. Message: { cache, error }. */
  fleetError: 'tls-resumption:fleet-error',
  /**
   * The shared store file was truncated under this process (an operator's clean-up): the store
   * answered misses from zero pages until this check mapped the file again. Message: { cache,
   * path, reopened, error? } (`reopened` false: the file could not be mapped; tried again each second).
   */
  sharedStoreReopened: 'tls-resumption:shared-store-reopened',
  /**
   * A `fromRedis` ring refused the ring document in Redis (forged, out of bounds, older than the
   * one loaded) and kept its keys. Message: { cache, reason, mode }, reason one of 'too-large',
   * 'malformed', 'not-authentic', 'out-of-bounds', 'older-version'.
   */
  ringDocumentRefused: 'tls-resumption:ring-document-refused',
  /**
   * Offered sessions that did not resume, sampled: at most one message per reason per second per
   * attached context (drained once a second), each with how many of that reason went unsampled
   * before it. Message: { cache, reason, protocol, mechanism, atMs, suppressed }.
   */
  resumptionFailed: 'tls-resumption:resumption-failed',
  /**
   * Client side (`clientSessions()`): a session offered to an upstream was answered with a full
   * handshake. Message: { cache, upstream, reason, protocol, negotiated } (`cache` is the
   * ClientSessionCache; `upstream` its stats label; `reason` one of CLIENT_REFUSAL_REASONS).
   */
  clientRefused: 'tls-resumption:client-refused',
});

/** One of the channel keys above; also the event name emitted on the handle. */
export type EventName = keyof typeof Channels;

/** Every message carries the handle it is about. */
export interface EventMessage {
  cache: EventEmitter;
  [field: string]: unknown;
}

const channels = new Map<EventName, diagnosticsChannel.Channel>(
  (Object.keys(Channels) as EventName[]).map((k) => [k, diagnosticsChannel.channel(Channels[k])]),
);

/** Whether anybody would see event `name` from `source`: lets callers skip building a message. */
export function hasListeners(source: EventEmitter, name: EventName): boolean {
  return channels.get(name)!.hasSubscribers || source.listenerCount(name) > 0;
}

/**
 * @internal the package's own modules publish; users only subscribe (a public publish would let
 * anyone fake the library's events).
 * Publishes `name` on its diagnostics channel and emits it on `source` (the SessionCache) with
 * the message `{ cache: source, ...fields }`. A listener that throws does not reach the caller:
 * the library's own work (a rotation, a detach) has already happened and must not be undone by
 * a subscriber; the error is rethrown on the next tick, as Node does for channel subscribers.
 * Never pass secrets in `fields`.
 */
export function publish(source: EventEmitter, name: EventName, fields: Record<string, unknown> = {}): void {
  const channel = channels.get(name)!;
  const emit = source.listenerCount(name) > 0;
  if (!channel.hasSubscribers && !emit) return;
  const message: EventMessage = { ...fields, cache: source };
  if (channel.hasSubscribers) channel.publish(message);
  if (emit) {
    try {
      source.emit(name, message);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }
}
