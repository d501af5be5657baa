// What the WHEP browser scripts (whep_play.mjs, whep_transport.mjs, whep_loss.mjs) share:
// their command-line options, and one run of a page in Debian's Chromium that ends in one
// JSON line on stdout. The browser is web/e2e/lib/browser.mjs's (Debian's Chromium,
// loopback ICE allowed, cleanup by PID).
import path from 'node:path';
import { launchBrowser } from '../../web/e2e/lib/browser.mjs';

const PAGE_WHEP = path.join(path.dirname(new URL(import.meta.url).pathname), 'page_whep.js');

/** The value after `--name` on the command line, else `dflt`. */
export function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/**
 * Runs `body(page)` on a fresh page (with page_whep.js's window.whepView), merges what it returns into `out`, prints `out` as one
 * JSON line and exits: 0 when it carries no `error`, 1 when it does, 2 when the whole run
 * took more than `seconds` + 60 s (the test reads the JSON either way).
 */
export async function runInBrowser(out, seconds, body) {
  out.ok = false;
  let browser = null;
  const timer = setTimeout(() => {
    out.error = 'overall timeout';
    console.log(JSON.stringify(out));
    process.exit(2); // launchBrowser's exit handler kills Chromium's process group
  }, (seconds + 60) * 1000);
  try {
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    await page.addInitScript({ path: PAGE_WHEP });
    Object.assign(out, await body(page));
    out.ok = !out.error;
  } catch (e) {
    out.error = String(e && e.stack ? e.stack : e);
  } finally {
    clearTimeout(timer);
    if (browser) await browser.close();
  }
  console.log(JSON.stringify(out));
  process.exit(out.ok ? 0 : 1);
}
