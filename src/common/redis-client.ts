/**
 * A narrow adapter over the two well-kept Redis clients users already have: ioredis and
 * node-redis (v4+). Everything goes through their generic command call with string arguments
 * and string replies, so neither client's typing or reply-buffer options leak into the fleet code.
 */
import { typeError } from './validate';

/** The structural parts of an ioredis client we use. */
export interface IoRedisLike {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  duplicate(): IoRedisLike;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** The structural parts of a node-redis (v4+) client we use. */
export interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  quit(): Promise<unknown>;
  disconnect?(): Promise<unknown>;
}

/** An ioredis or node-redis client the user created and owns. */
export type RedisClientLike = IoRedisLike | NodeRedisLike;

/** What the fleet modules need from Redis. */
export interface RedisAdapter {
  command(...args: (string | number)[]): Promise<unknown>;
  /** Subscribes on a dedicated connection; returns a function that closes it. */
  subscribe(channel: string, onMessage: (message: string) => void, onError: (err: Error) => void): Promise<() => void>;
  /** A connection of its own for blocking commands (XREAD BLOCK), from the client's `duplicate()`. */
  dedicated(onError: (err: Error) => void): Promise<DedicatedRedis>;
}

/** A duplicate connection: blocking commands on it never hold up the shared one. */
export interface DedicatedRedis {
  command(...args: (string | number)[]): Promise<unknown>;
  /** Closes the connection at once (a pending blocking command rejects). */
  close(): void;
}

function isIoRedis(client: RedisClientLike): client is IoRedisLike {
  return typeof (client as IoRedisLike).call === 'function';
}

function isNodeRedis(client: RedisClientLike): client is NodeRedisLike {
  return typeof (client as NodeRedisLike).sendCommand === 'function';
}

/** Wraps a user's client. TypeError naming `field` when it is neither ioredis nor node-redis. */
export function redisAdapter(client: unknown, field: string): RedisAdapter {
  if (typeof client !== 'object' || client === null) {
    throw typeError(field, 'an ioredis or node-redis client', client);
  }
  const c = client as RedisClientLike;
  if (isIoRedis(c)) {
    return {
      command: (cmd, ...args) => c.call(String(cmd), ...args),
      async subscribe(channel, onMessage, onError) {
        const sub = c.duplicate();
        sub.on('error', onError);
        sub.on('message', (ch: string, message: string) => {
          if (ch === channel) onMessage(message);
        });
        await sub.subscribe(channel);
        return () => sub.disconnect();
      },
      async dedicated(onError) {
        const d = c.duplicate();
        d.on('error', onError);
        return { command: (cmd, ...args) => d.call(String(cmd), ...args), close: () => d.disconnect() };
      },
    };
  }
  if (isNodeRedis(c)) {
    return {
      command: (...args) => c.sendCommand(args.map(String)),
      async subscribe(channel, onMessage, onError) {
        const sub = c.duplicate();
        sub.on('error', onError);
        await sub.connect();
        await sub.subscribe(channel, (message: string) => onMessage(message));
        return () => void sub.quit().catch(() => undefined);
      },
      async dedicated(onError) {
        const d = c.duplicate();
        d.on('error', onError);
        await d.connect();
        return {
          command: (...args) => d.sendCommand(args.map(String)),
          close: () => void (d.disconnect?.() ?? d.quit()).catch(() => undefined),
        };
      },
    };
  }
  throw typeError(field, 'an ioredis or node-redis client (an object with call() or sendCommand())', client);
}
