// The dashboard in a real browser: Debian chromium driven by playwright-core,
// signing in through a real OpenID Connect provider (op.mjs). Started by
// crates/islet/tests/browser.rs, which runs Islet and the provider and passes:
//   BASE (Islet's URL), PATIENT (a FHIR patient id with alerts), SHOTS (a folder for screenshots)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const BASE = process.env.BASE;
const PATIENT = process.env.PATIENT;
const SHOTS = process.env.SHOTS;
// integration-anchors D.3: without these, chromium keeps reaching for the network this machine does not have.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function signIn(browser, user, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(`${BASE}/worklist`);
  // The provider's own sign-in and consent forms.
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill('any');
  await page.locator('button[type="submit"]').click();
  await page.locator('button[type="submit"]').click(); // consent
  try {
    await page.waitForURL(`${BASE}/worklist`);
  } catch (e) {
    await page.screenshot({ path: `${SHOTS}/sign-in-${user}-failed.png`, fullPage: true });
    throw new Error(`${user} did not reach the worklist; at ${page.url()}: ${(await page.content()).slice(0, 2000)}`);
  }
  problems.length = 0; // the provider's pages are not ours to judge
  return { context, page, problems };
}

test('a clinician and a viewer use the dashboard', async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  try {
    const ana = await signIn(browser, 'ana');
    const { page } = ana;
    assert.match(await page.locator('.who').innerText(), /Dr ana \(clinician\)/);
    const rows = page.locator('tbody#rows tr[class^="state-"]');
    assert.ok(await rows.count() > 0, 'the worklist has rows');
    await page.screenshot({ path: `${SHOTS}/worklist.png`, fullPage: true });

    // Filter to overdue: every row is overdue, and their number is the count shown.
    await page.locator('input[name="state"][value="overdue"]').check();
    await page.locator('form.filters button[type="submit"]').click();
    await page.waitForURL(/state=overdue/);
    const overdue = await rows.count();
    assert.equal(overdue, await page.locator('tbody#rows tr.state-overdue').count());
    const shown = await page.locator('a.badge.state.overdue strong').innerText();
    assert.equal(Number(shown), overdue, 'the count per state matches the rows (all fit on one page)');

    // The patient page: three plots drawn with as many points as the record holds.
    await page.goto(`${BASE}/patients/${PATIENT}`);
    const facts = await (await page.request.get(`${BASE}/api/patients/${PATIENT}/facts`)).json();
    const plotted = { ki67: facts.ki67.length, cga: facts.cga.filter((c) => c.times_uln !== null).length, size: facts.size.length };
    for (const [name, n] of Object.entries(plotted)) {
      const figure = page.locator(`figure[data-plot="${name}"]`);
      await figure.waitFor();
      await page.waitForFunction((f) => document.querySelector(`figure[data-plot="${f}"]`).hasAttribute('data-points'), name,
        { timeout: 10000 }).catch((e) => { throw new Error(`${name} not drawn; script errors: ${ana.problems.join(' | ')}`); });
      assert.equal(Number(await figure.getAttribute('data-points')), n, `${name} points`);
      if (n > 0) { assert.equal(await figure.locator('canvas').count(), 1, `${name} is drawn`); }
    }
    assert.ok(plotted.size > 0, 'the chosen patient has sizes to plot');
    await page.screenshot({ path: `${SHOTS}/patient.png`, fullPage: true });

    // The viewer's worklist, open in a second browser.
    const vic = await signIn(browser, 'vic');
    await vic.page.goto(`${BASE}/worklist`);
    const card = page.locator('article.alert').first();
    const alertId = (await card.getAttribute('id')).replace('alert-', '');
    const vicRow = vic.page.locator(`tbody#rows a[href$="#alert-${alertId}"]`);
    assert.equal(await vicRow.count(), 1, 'the viewer sees the alert as needing action');

    // Acknowledge with a reason and a note.
    await card.locator('summary').click();
    const form = card.locator('form[action$="/acknowledge"]');
    await form.locator('select[name="reason"]').selectOption('tumour-board');
    await form.locator('input[name="text"]').fill('MDT: surveillance continues');
    await form.locator('button[type="submit"]').click();
    await page.waitForURL(/notice=/).catch(async () => {
      const text = await page.locator('main').innerText().catch(() => '');
      throw new Error(`no answer to the form; at ${page.url()}: ${text}; script errors: ${ana.problems.join(' | ')}`);
    });
    assert.match(page.url(), /notice=acknowledged/);
    assert.match(await page.locator(`#alert-${alertId} .ack`).innerText(), /Acknowledged by Dr ana on .*MDT: surveillance continues/);

    // The viewer's worklist drops it without a reload (server-sent events).
    await vicRow.waitFor({ state: 'detached', timeout: 10000 });
    await vic.page.screenshot({ path: `${SHOTS}/worklist-after-acknowledgement.png`, fullPage: true });
    await vic.page.goto(`${BASE}/patients/${PATIENT}`);
    assert.equal(await vic.page.locator('details.actions').count(), 0, 'a viewer has no action forms');

    // A form post without the session's CSRF token is refused.
    const etag = await page.locator(`#alert-${alertId} form[action$="/note"] input[name="etag"]`).getAttribute('value');
    const forged = await page.request.post(`${BASE}/alerts/${alertId}/note`, {
      form: { etag, patient: `Patient/${PATIENT}`, text: 'forged' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);

    // Accessibility (WCAG 2 A/AA rules of axe-core): no serious or critical
    // violation on the worklist and the patient page. axe is injected, so
    // this one context bypasses the pages' CSP.
    const audit = await signIn(browser, 'ana', { bypassCSP: true });
    for (const path of ['/worklist', `/patients/${PATIENT}`]) {
      await audit.page.goto(`${BASE}${path}`);
      await audit.page.addScriptTag({ path: AXE });
      const result = await audit.page.evaluate(async () =>
        // eslint-disable-next-line no-undef
        axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } }));
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
      assert.deepEqual(bad, [], `accessibility of ${path}`);
    }
    await audit.context.close();

    assert.deepEqual(ana.problems, [], 'no script errors (CSP, htmx, uPlot)');
    assert.deepEqual(vic.problems, []);
    await ana.context.close();
    await vic.context.close();
  } finally {
    await browser.close();
  }
});
