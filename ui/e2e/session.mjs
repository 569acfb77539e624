// Owns: starting a WebDriver session on the real app window through tauri-driver
// (shared by the e2e files: each starts the app once).
import { connect } from 'node:net';
import { remote } from 'webdriverio';

/** Resolve once something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const open = await new Promise((ok) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); ok(true); });
      s.on('error', () => ok(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A session on the app binary `app`: starts it in the driver's environment. */
export async function openAppSession(app) {
  // tauri-driver (4444) opens its port before its WebKitWebDriver (4445) is ready.
  await waitForPort(4444);
  await waitForPort(4445);
  return remote({
    hostname: '127.0.0.1',
    port: 4444,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });
}
