/**
 * Debian's headless Chromium driven over the DevTools protocol through a pipe
 * (`--remote-debugging-pipe`: NUL-terminated JSON on file descriptors 3 and 4), so nothing is
 * downloaded and no WebSocket client is needed. A fresh profile per launch; the flags keep it off
 * the network (this machine's closed network refuses Google's hosts) and trust the test
 * certificate without a CA (`--ignore-certificate-errors`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM_BIN = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
  '--host-resolver-rules=MAP localhost 127.0.0.1',
];

export interface ChromiumTab {
  /** Opens `url` in the tab and resolves when its load event fired (every subresource loaded). */
  navigate(url: string, timeoutMs?: number): Promise<void>;
  /** Evaluates `expression` in the tab, awaiting a promise it returns; resolves with its value (JSON). */
  evaluate<T>(expression: string): Promise<T>;
}

/** The browser and its first tab. */
export interface Chromium extends ChromiumTab {
  /** Another tab of the same browser (one session cache, one profile); closed by `closeTab`. */
  openTab(): Promise<ChromiumTab & { closeTab(): Promise<void> }>;
  close(): Promise<void>;
}

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
}

export async function launchChromium(): Promise<Chromium> {
  if (!fs.existsSync(CHROMIUM_BIN)) throw new Error(`${CHROMIUM_BIN} is missing (apt-get install chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-resumption-chromium-'));
  const child: ChildProcess = spawn(
    CHROMIUM_BIN,
    [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'],
    {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
    },
  );
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let nextId = 1;
  const pending = new Map<number, { resolve(r: Record<string, unknown>): void; reject(e: Error): void }>();
  const listeners = new Set<(m: Message) => void>();
  let buffered = Buffer.alloc(0);
  fromBrowser.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let end = buffered.indexOf(0); end >= 0; end = buffered.indexOf(0)) {
      const msg = JSON.parse(buffered.subarray(0, end).toString('utf8')) as Message;
      buffered = buffered.subarray(end + 1);
      if (msg.id !== undefined && pending.has(msg.id)) {
        const p = pending.get(msg.id)!;
        pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`chromium: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else {
        for (const l of listeners) l(msg);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error('chromium exited'));
    pending.clear();
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });

  const openTab = async () => {
    const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    await send('Page.enable', {}, sessionId);
    const tab: ChromiumTab & { closeTab(): Promise<void> } = {
      navigate: (url, timeoutMs = 20000) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            listeners.delete(onEvent);
            reject(new Error(`chromium: ${url} did not load within ${timeoutMs} ms`));
          }, timeoutMs);
          const onEvent = (m: Message) => {
            if (m.sessionId !== sessionId || m.method !== 'Page.loadEventFired') return;
            clearTimeout(timer);
            listeners.delete(onEvent);
            resolve();
          };
          listeners.add(onEvent);
          send('Page.navigate', { url }, sessionId).then((r) => {
            if (typeof r.errorText === 'string') {
              clearTimeout(timer);
              listeners.delete(onEvent);
              reject(new Error(`chromium: ${url}: ${r.errorText}`));
            }
          }, reject);
        }),
      evaluate: async <T>(expression: string) => {
        const r = (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)) as {
          result?: { value?: unknown };
          exceptionDetails?: { text?: string; exception?: { description?: string } };
        };
        if (r.exceptionDetails) throw new Error(`chromium: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result?.value as T;
      },
      closeTab: async () => {
        await send('Target.closeTarget', { targetId });
      },
    };
    return tab;
  };
  const first = await openTab();

  return {
    navigate: first.navigate,
    evaluate: first.evaluate,
    openTab,
    close: async () => {
      try {
        await Promise.race([send('Browser.close'), exited]);
      } catch {
        // already gone
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
