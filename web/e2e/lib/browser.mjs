// Debian's Chromium, headless, driven by playwright-core (never a downloaded browser).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgestream-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
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
      '--enable-precise-memory-info',
      '--js-flags=--expose-gc',
    ],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
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
