// Opens the broker's live tail page in headless Chromium and waits for a record to appear in it.
//   node live-page.mjs URL EXPECTED_TEXT
// Prints "OPEN" once the page's WebSocket is open (so the caller can produce after it), then "SEEN"
// and exits 0 once a record row containing EXPECTED_TEXT is shown; exits 1 after 30 s without it.
import { chromium } from 'playwright-core';

const [url, expected] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--headless=new'] });
let code = 1;
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'open', null, { timeout: 30000 });
  console.log('OPEN');
  await page.waitForFunction(
    (text) => Array.from(document.querySelectorAll('tr.record')).some((row) => row.textContent.includes(text)),
    expected, { timeout: 30000 });
  console.log('SEEN');
  code = 0;
} catch (e) {
  console.log('FAILED ' + e.message);
} finally {
  await browser.close();
}
process.exit(code);
