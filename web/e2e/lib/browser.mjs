// Debian's Chromium, headless, driven by playwright-core (never a downloaded browser).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The PID of our own child process whose command line names `marker` (this run's profile dir). */
function childPidWith(marker) {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) return Number(name);
    } catch {
      /* gone meanwhile */
    }
  }
  return null;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL the process group playwright made for Chromium (it spawns it detached), by PID. */
function killGroup(pid) {
  if (!pid) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgestream-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    // The test runner's own signal handlers close everything (the browser included) in order.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      // WebRTC on loopback (the daemon and the browser share 127.0.0.1): Chromium leaves
      // loopback out of ICE unless told (webrtc-rules.md §7.2).
      '--allow-loopback-in-peer-connection',
      '--enable-precise-memory-info',
      '--js-flags=--expose-gc',
    ],
  });
  // playwright closes Chromium on close() and kills it (by PID) when this process exits; we
  // also keep its PID, so that close() can make sure, and an exit handler as a last resort.
  const pid = childPidWith(userDataDir);
  const lastResort = () => {
    if (pid && alive(pid)) killGroup(pid);
  };
  process.on('exit', lastResort);
  return {
    context,
    pid,
    async close() {
      let timer;
      await Promise.race([context.close().catch(() => {}), new Promise((r) => (timer = setTimeout(r, 10000)))]);
      clearTimeout(timer);
      if (pid && alive(pid)) killGroup(pid);
      process.off('exit', lastResort);
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What this Chromium says about H.264/AAC in MSE (the question that decides everything). */
export async function codecSupport(page) {
  return page.evaluate(() => {
    const v = document.createElement('video');
    const t = (s) => (typeof MediaSource !== 'undefined' ? MediaSource.isTypeSupported(s) : false);
    return {
      userAgent: navigator.userAgent,
      mse: typeof MediaSource !== 'undefined',
      h264aac: t('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'),
      h264: t('video/mp4; codecs="avc1.42E01E"'),
      aac: t('audio/mp4; codecs="mp4a.40.2"'),
      nativeHls: v.canPlayType('application/vnd.apple.mpegurl'),
    };
  });
}
