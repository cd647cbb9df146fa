// The manual run path on a tenant front: the skill list, a skill's page with its README and the form
// generated from its input schema, file uploads, the execution page updating live, results,
// artifact downloads, confirmation of high-risk skills, refused input, history with filters, and
// executions and artifacts that stay invisible to other tenants and to anonymous visitors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import {
    ACME,
    GLOBEX,
    TEST_TIMEOUT,
    alertLocator,
    browserForFile,
    fetchInPage,
    gotoHydrated,
    openPage,
    signIn,
    suffix,
    url,
    waitHydrated,
    xlsxWorkbook,
    zipArchive,
} from '../support.mjs';

const browser = browserForFile();

/** How long a run may take to reach a final status (cold debug server, sandboxed Python). */
const RUN_TIMEOUT = 60_000;
const FINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'];

const statusLocator = (page) => page.locator('[data-testid=execution-status]');

/** The status word at the start of the status element's text ("failed: worker lost" → failed). */

/** A CSV whose column names are unique to this run, so any leak of them is detectable. */
function salesCsv() {
    const tag = suffix();
    const columns = [`region_${tag}`, `product_${tag}`, `units_${tag}`, `price_${tag}`];
    const rows = [
        ['north', 'widget', '12', '2.50'],
        ['south', 'widget', '7', '2.75'],
        ['north', 'gadget', '3', '10.00'],
        ['east', 'gizmo', '', '4.20'],
        ['north', 'widget', '9', '2.50'],
    ];
    const text = [columns, ...rows].map((r) => r.join(',')).join('\n') + '\n';
    return { columns, rows, file: { name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from(text) } };
}

/** A CSV of orders with dates: two before 2024-01-01, two on or after it. */
function ordersCsv() {
    const tag = suffix();
    const dateColumn = `ordered_${tag}`;
    const text = [
        `id,${dateColumn},amount`,
        '1,2023-01-05,10',
        '2,2023-06-01,20',
        '3,2024-02-01,30',
        '4,2024-07-15 10:00,40',
    ].join('\n') + '\n';
    return {
        dateColumn,
        cutoff: '2024-01-01',
        file: { name: `orders-${tag}.csv`, mimeType: 'text/csv', buffer: Buffer.from(text) },
    };
}

/** Header texts and cell texts of a table. */
async function readTable(table) {
    await table.waitFor();
    const headers = (await table.locator('thead th').allTextContents()).map((h) => h.trim());
    const rows = await table.locator('tbody tr').evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent.trim())),
    );
    return { headers, rows };
}

/** The execution id in the current address (/executions/<id>), asserting the address is one. */
function executionIdOf(page) {
    const m = new URL(page.url()).pathname.match(/^\/executions\/(\d+)$/);
    assert.ok(m, `an execution page address, got ${page.url()}`);
    return m[1];
}

/** Opens /skills, checks acme's list, and follows the link of `slug` to its page. */
async function openSkillFromList(page, slug) {
    await gotoHydrated(page, url(ACME, '/skills'));
    const row = page.locator(`table[data-testid=skills] tr[data-skill="${slug}"]`);
    await row.waitFor();
    const link = row.locator(`a[href$="/skills/${slug}"]`);
    assert.equal(await link.count(), 1, `the ${slug} row links to /skills/${slug}`);
    await link.click();
    await page.waitForURL(url(ACME, `/skills/${slug}`));
    await page.locator('form[data-testid=run-form]').waitFor();
    await waitHydrated(page);
}

/**
 * Clicks "Run" on the skill page and waits for the execution page. Returns its id and the status
 * the server rendered in the first HTML of that page (when the execution page was a document load).
 */
async function submitRun(page) {
    const documentResponse = page
        .waitForResponse(
            (r) => r.request().resourceType() === 'document' && /^\/executions\/\d+$/.test(new URL(r.url()).pathname),
            { timeout: 30_000 },
        )
        .catch(() => null);
    await page.locator('form[data-testid=run-form]').getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/executions\/\d+$/, { timeout: 30_000 });
    await statusLocator(page).waitFor();
    await waitHydrated(page);
    const response = await documentResponse;
    let firstStatus = null;
    if (response) {
        const html = await response.text();
        const m = html.match(/data-testid="execution-status"[^>]*data-status="([a-z_]+)"/);
        firstStatus = m ? m[1] : null;
    }
    return { id: executionIdOf(page), firstStatus };
}

/** Marks the current document; `assertNoReload` fails if the page has been loaded anew since. */
async function markDocument(page) {
    const mark = `m-${suffix()}`;
    await page.evaluate((m) => { window.__e2eDocumentMark = m; }, mark);
    return {
        async assertNoReload(what) {
            const now = await page.evaluate(() => window.__e2eDocumentMark ?? null);
            assert.equal(now, mark, `${what}: the page was reloaded or navigated away`);
        },
    };
}

/** Waits (without reloading) until the execution status is one of `wanted`; returns it. */
async function waitStatus(page, wanted, timeout = RUN_TIMEOUT) {
    try {
        await page.waitForFunction(
            ([words]) => {
                const el = document.querySelector('[data-testid=execution-status]');
                const w = el?.dataset.status;
                return words.includes(w);
            },
            [wanted],
            { timeout, polling: 100 },
        );
    } catch (e) {
        const status = await statusLocator(page).textContent().catch(() => '?');
        const logs = await page.locator('[data-testid=logs]').textContent().catch(() => '?');
        throw new Error(`status never became ${wanted.join('|')} (it is ${JSON.stringify(status)}); logs: ${logs}`, { cause: e });
    }
    return await statusLocator(page).getAttribute('data-status');
}

async function waitSucceeded(page) {
    const status = await waitStatus(page, FINAL);
    if (status !== 'succeeded') {
        const full = await statusLocator(page).textContent();
        const logs = await page.locator('[data-testid=logs]').textContent().catch(() => '?');
        assert.fail(`the execution ended ${JSON.stringify(full.trim())}; logs: ${logs}`);
    }
}

/** Execution ids in the history visible to the page's user (optionally with a query string). */
async function historyIds(page, query = '') {
    await gotoHydrated(page, url(ACME, `/executions${query}`));
    const table = page.locator('table[data-testid=executions]');
    await table.or(page.getByTestId('empty')).first().waitFor();
    return table.locator('tr[data-execution]').evaluateAll((trs) => trs.map((tr) => tr.dataset.execution));
}

/** Each history row as { id, status } (the status from a "Status" column, else the row's text). */
async function historyRows(page) {
    const table = page.locator('table[data-testid=executions]');
    // An empty history explains itself instead of showing an empty table.
    await table.or(page.getByTestId('empty')).first().waitFor();
    if (!(await table.count())) return [];
    const headers = (await table.locator('thead th').allTextContents()).map((h) => h.trim().toLowerCase());
    const statusIndex = headers.indexOf('status');
    return table.locator('tr[data-execution]').evaluateAll(
        (trs, index) =>
            trs.map((tr) => {
                const cells = Array.from(tr.querySelectorAll('td'), (td) => td.textContent.trim());
                return { id: tr.dataset.execution, status: tr.dataset.status, shown: cells[index] ?? '', text: cells.join(' | ') };
            }),
        statusIndex,
    );
}

/** Polls `read` until `ok(value)` holds (a client-side re-render may lag the address change). */
async function eventually(read, ok, what, timeout = 20_000) {
    const end = Date.now() + timeout;
    let value;
    for (;;) {
        value = await read();
        if (ok(value)) return value;
        if (Date.now() > end) assert.fail(`${what}; last seen: ${JSON.stringify(value)}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

// Shared by the tests below (node:test runs a file's tests in order); each test still works alone.
const runs = {};

test('acme-user runs csv-summary on an uploaded CSV, watches it finish live, and downloads the report; Globex and anonymous visitors see nothing', { timeout: TEST_TIMEOUT * 2 }, async (t) => {
    const csv = salesCsv();
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');

    // The skill list: acme's skills with risk badges, none of Globex's.
    await gotoHydrated(page, url(ACME, '/skills'));
    const list = page.locator('table[data-testid=skills]');
    await list.waitFor();
    const slugs = await list.locator('tr[data-skill]').evaluateAll((trs) => trs.map((tr) => tr.dataset.skill));
    for (const slug of ['csv-summary', 'text-report', 'purge-old-rows']) {
        assert.ok(slugs.includes(slug), `acme's list shows ${slug} (got ${slugs})`);
    }
    for (const slug of ['word-frequency', 'checksum']) {
        assert.ok(!slugs.includes(slug), `acme's list must not show Globex's ${slug}`);
    }
    assert.equal(await list.locator('tr[data-skill="csv-summary"] .badge.risk-low').count(), 1, 'csv-summary is low risk');
    assert.equal(await list.locator('tr[data-skill="purge-old-rows"] .badge.risk-high').count(), 1, 'purge-old-rows is high risk');

    // The skill page: name, README as HTML, and a form generated from the input schema.
    await openSkillFromList(page, 'csv-summary');
    assert.equal((await page.locator('main h1').first().textContent()).trim(), 'CSV summariser');
    const readme = page.locator('[data-testid=readme]');
    await readme.getByRole('heading', { name: 'Inputs' }).waitFor();
    assert.ok(await readme.locator('table').count() >= 1, 'the README\'s Markdown table is rendered as a table');
    const readmeHtml = await readme.innerHTML();
    assert.doesNotMatch(readmeHtml, /## Inputs/, 'the README is rendered, not shown as Markdown source');
    assert.doesNotMatch(readmeHtml, /<script/i);
    const form = page.locator('form[data-testid=run-form]');
    assert.equal((await form.getAttribute('method'))?.toLowerCase(), 'post');
    assert.equal((await form.getAttribute('enctype'))?.toLowerCase(), 'multipart/form-data');
    const fileInput = form.locator('input[name=data][type=file]');
    assert.equal(await fileInput.count(), 1, 'a file input named data');
    assert.equal(await form.locator('input[name=top_values][type=number]').count(), 1, 'a number input named top_values');
    const options = await form.locator('select[name=delimiter] option').evaluateAll((os) => os.map((o) => o.value));
    for (const choice of ['auto', 'comma', 'semicolon', 'tab']) {
        assert.ok(options.includes(choice), `delimiter offers ${choice} (got ${options})`);
    }

    // Upload and run.
    await fileInput.setInputFiles(csv.file);
    const { id, firstStatus } = await submitRun(page);
    runs.csvSummary = id;
    const doc = await markDocument(page);
    if (firstStatus && !FINAL.includes(firstStatus)) {
        t.diagnostic(`execution ${id} was first rendered as ${firstStatus}; it must reach succeeded live`);
    } else {
        t.diagnostic(`execution ${id} was first rendered as ${firstStatus ?? '(unknown)'}; the live update is not proven by this run`);
    }
    await waitSucceeded(page);
    await doc.assertNoReload('waiting for succeeded');

    // The result: a table with one row per column of the CSV.
    const result = await readTable(page.locator('table[data-testid=result]'));
    assert.equal(result.rows.length, csv.columns.length, `one result row per CSV column: ${JSON.stringify(result.rows)}`);
    const columnIndex = result.headers.findIndex((h) => h.toLowerCase() === 'column');
    for (const name of csv.columns) {
        const hit = result.rows.filter((cells) => (columnIndex >= 0 ? cells[columnIndex] === name : cells.includes(name)));
        assert.equal(hit.length, 1, `one result row for column ${name}`);
    }
    assert.match(await page.locator('[data-testid=logs]').textContent(), /Summarised 5 rows and 4 columns of sales\.csv/);
    assert.equal(await page.getByRole('button', { name: 'Cancel', exact: true }).count(), 0, 'no Cancel once finished');
    const again = page.getByRole('link', { name: 'Run again', exact: true });
    const againHref = new URL(await again.getAttribute('href'), page.url());
    assert.equal(againHref.pathname + againHref.search, `/skills/csv-summary?rerun=${id}`);

    // The report downloads as an attachment.
    const artifact = page.locator('a[data-testid=artifact]', { hasText: 'report.md' });
    await artifact.waitFor();
    const artifactUrl = new URL(await artifact.getAttribute('href'), page.url());
    assert.equal(artifactUrl.pathname, `/executions/${id}/artifacts/report.md`);
    const [download] = await Promise.all([page.waitForEvent('download'), artifact.click()]);
    assert.equal(download.suggestedFilename(), 'report.md');
    const report = await readFile(await download.path(), 'utf8');
    assert.match(report, /# CSV summary: sales\.csv/);
    for (const name of csv.columns) assert.ok(report.includes(name), `the report names column ${name}`);
    const own = await fetchInPage(page, artifactUrl.pathname);
    assert.equal(own.status, 200);
    assert.match(own.disposition, /^attachment/);
    assert.equal(own.text, report);
    await s.close();

    const leaks = (text) => csv.columns.filter((c) => text.includes(c));

    // A Globex user cannot open acme's execution or its artifact on globex.localhost.
    const g = await openPage(browser());
    await signIn(g.page, GLOBEX, 'globex-user');
    // Execution ids are numbered per tenant: if Globex happens to have its own execution with the
    // same number, that one may be shown, but never acme's.
    await gotoHydrated(g.page, url(GLOBEX, '/executions'));
    const globexHas = await g.page.locator(`table[data-testid=executions] tr[data-execution="${id}"]`).count();
    const foreign = await g.page.goto(url(GLOBEX, `/executions/${id}`));
    if (!globexHas) {
        await waitHydrated(g.page);
        assert.match(await g.page.locator('main').textContent(), /not found|no execution|no such/i);
        assert.equal(await statusLocator(g.page).count(), 0, 'no execution status on globex');
        assert.equal(await g.page.locator('table[data-testid=result]').count(), 0);
        assert.equal(await g.page.locator('a[data-testid=artifact]').count(), 0);
    } else {
        t.diagnostic(`globex has an execution ${id} of its own; checking only that acme's does not show`);
    }
    await waitHydrated(g.page);
    assert.deepEqual(leaks(await g.page.locator('body').textContent()), [], 'acme\'s result shown on globex');
    assert.doesNotMatch(await g.page.locator('body').textContent(), /CSV summariser|sales\.csv/);
    const foreignArtifact = await fetchInPage(g.page, `/executions/${id}/artifacts/report.md`);
    assert.equal(foreignArtifact.status, 404, 'acme\'s artifact on globex');
    assert.doesNotMatch(foreignArtifact.disposition, /attachment/);
    assert.deepEqual(leaks(foreignArtifact.text), [], 'acme\'s report served on globex');
    if (!globexHas) {
        const foreignEvents = await fetchInPage(g.page, `/executions/${id}/events`, { readBody: false });
        assert.equal(foreignEvents.status, 404, 'acme\'s live event stream on globex');
    }
    await g.close();

    // An anonymous visitor on acme gets the sign-in form or "not found", never the result.
    const a = await openPage(browser());
    const anon = await a.page.goto(url(ACME, `/executions/${id}`));
    assert.ok([200, 404].includes(anon.status()), `status of anonymous /executions/${id}: ${anon.status()}`);
    await waitHydrated(a.page);
    await a.page
        .locator('input[name=password]')
        .or(a.page.getByRole('heading', { name: 'Page not found' }))
        .first()
        .waitFor();
    assert.equal(await a.page.locator('table[data-testid=result]').count(), 0);
    assert.equal(await a.page.locator('a[data-testid=artifact]').count(), 0);
    assert.equal(await statusLocator(a.page).count(), 0, 'no execution status for an anonymous visitor');
    assert.deepEqual(leaks(await a.page.locator('body').textContent()), [], 'result shown to an anonymous visitor');
    const anonArtifact = await fetchInPage(a.page, `/executions/${id}/artifacts/report.md`);
    assert.notEqual(anonArtifact.status, 200, 'the artifact is not served to an anonymous visitor');
    assert.doesNotMatch(anonArtifact.disposition, /attachment/);
    assert.deepEqual(leaks(anonArtifact.text), [], 'report served to an anonymous visitor');
    const anonEvents = await fetchInPage(a.page, `/executions/${id}/events`, { readBody: false });
    assert.notEqual(anonEvents.status, 200, 'the live event stream is not served to an anonymous visitor');
    await a.close();

    // Checked last, so that everything above is known to hold when only this fails: another
    // tenant's execution page answers with the 404 status, like every page that is not there.
    if (!globexHas) assert.equal(foreign.status(), 404, `HTTP status of globex /executions/${id}`);
});

test('purge-old-rows waits for confirmation, shows what will run, and runs once confirmed', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const orders = ordersCsv();
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await openSkillFromList(page, 'purge-old-rows');
    assert.equal((await page.locator('main h1').first().textContent()).trim(), 'Purge old rows');
    const form = page.locator('form[data-testid=run-form]');
    await form.locator('input[name=data][type=file]').setInputFiles(orders.file);
    await form.locator('input[name=date_column]').fill(orders.dateColumn);
    const cutoff = form.locator('input[name=cutoff][type=date]');
    assert.equal(await cutoff.count(), 1, 'a date input named cutoff');
    await cutoff.fill(orders.cutoff);
    const { id } = await submitRun(page);
    runs.purge = id;

    // It waits for an explicit confirmation and says what will run.
    assert.equal(await statusLocator(page).getAttribute('data-status'), 'awaiting_confirmation');
    const summary = page.locator('[data-testid=confirm-summary]');
    await summary.waitFor();
    const said = await summary.textContent();
    for (const shown of [orders.dateColumn, orders.cutoff, orders.file.name]) {
        assert.ok(said.includes(shown), `the confirmation summary shows ${shown}: ${JSON.stringify(said)}`);
    }
    assert.match(said, /Purge old rows|purge-old-rows/);
    assert.equal(await page.locator('table[data-testid=result], pre[data-testid=result]').count(), 0);
    await page.getByRole('button', { name: 'Cancel', exact: true }).waitFor();
    // Still waiting a moment later: nothing runs without the confirmation.
    await page.waitForTimeout(1500);
    assert.equal(await statusLocator(page).getAttribute('data-status'), 'awaiting_confirmation');

    // From here to the end of the run the page is never reloaded: the confirmation is posted by
    // the hydrated page and the status follows the execution live (awaiting → … → succeeded).
    const doc = await markDocument(page);
    await page.getByRole('button', { name: 'Confirm and run', exact: true }).click();
    await waitStatus(page, ['queued', 'running', ...FINAL]);
    assert.equal(executionIdOf(page), id, 'confirming stays on the same execution');
    await waitSucceeded(page);
    await doc.assertNoReload('confirming and waiting for succeeded');
    assert.equal(await page.locator('[data-testid=confirm-summary]').count(), 0, 'no confirmation once it ran');
    assert.equal(await page.getByRole('button', { name: 'Confirm and run', exact: true }).count(), 0);

    const result = await readTable(page.locator('table[data-testid=result]'));
    assert.equal(result.rows.length, 1);
    const removed = result.headers.findIndex((h) => /rows.removed/i.test(h));
    const kept = result.headers.findIndex((h) => /rows.kept/i.test(h));
    assert.ok(removed >= 0 && kept >= 0, `result headers: ${result.headers}`);
    assert.equal(result.rows[0][removed], '2');
    assert.equal(result.rows[0][kept], '2');
    const artifacts = (await page.locator('a[data-testid=artifact]').allTextContents()).map((a) => a.trim());
    for (const name of ['kept.csv', 'removed.csv']) {
        assert.ok(artifacts.some((a) => a.includes(name)), `artifact ${name} (got ${artifacts})`);
    }

    // "Run again" opens the form with these inputs.
    await page.getByRole('link', { name: 'Run again', exact: true }).click();
    await page.waitForURL(url(ACME, `/skills/purge-old-rows?rerun=${id}`));
    await waitHydrated(page);
    await page.locator('form[data-testid=run-form]').waitFor();
    assert.equal(await page.locator('form[data-testid=run-form] input[name=date_column]').inputValue(), orders.dateColumn);
    assert.equal(await page.locator('form[data-testid=run-form] input[name=cutoff]').inputValue(), orders.cutoff);
    await s.close();
});

test('refused input shows a message naming the field and creates no execution', { timeout: TEST_TIMEOUT * 2 }, async (t) => {
    const orders = ordersCsv();
    const csv = salesCsv();
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    const before = await historyIds(page);

    // purge-old-rows with the cutoff left empty (the browser's own check switched off).
    await gotoHydrated(page, url(ACME, '/skills/purge-old-rows'));
    let form = page.locator('form[data-testid=run-form]');
    await form.locator('input[name=data]').setInputFiles(orders.file);
    await form.locator('input[name=date_column]').fill(orders.dateColumn);
    await form.evaluate((f) => {
        f.noValidate = true;
        f.querySelector('[name=cutoff]').removeAttribute('required');
    });
    await form.getByRole('button', { name: 'Run', exact: true }).click();
    await alertLocator(page).first().waitFor({ timeout: 30_000 });
    assert.equal(new URL(page.url()).pathname, '/skills/purge-old-rows', 'back on the skill page');
    let alerts = (await alertLocator(page).allTextContents()).join(' | ');
    t.diagnostic(`purge-old-rows without a cutoff: ${alerts}`);
    assert.match(alerts, /cutoff|Remove rows dated before/i, `the message names the cutoff: ${alerts}`);
    assert.equal(await statusLocator(page).count(), 0);
    // What was typed is still in the form.
    assert.equal(await page.locator('form[data-testid=run-form] input[name=date_column]').inputValue(), orders.dateColumn);

    // csv-summary with top_values that is not a number.
    await gotoHydrated(page, url(ACME, '/skills/csv-summary'));
    form = page.locator('form[data-testid=run-form]');
    await form.locator('input[name=data]').setInputFiles(csv.file);
    await form.evaluate((f) => {
        f.noValidate = true;
        f.querySelector('input[name=top_values]').type = 'text';
    });
    await form.locator('input[name=top_values]').fill('abc');
    await form.getByRole('button', { name: 'Run', exact: true }).click();
    await alertLocator(page).first().waitFor({ timeout: 30_000 });
    assert.equal(new URL(page.url()).pathname, '/skills/csv-summary', 'back on the skill page');
    alerts = (await alertLocator(page).allTextContents()).join(' | ');
    t.diagnostic(`csv-summary with top_values=abc: ${alerts}`);
    assert.match(alerts, /top_values|Top values per text column/i, `the message names top_values: ${alerts}`);
    assert.equal(await statusLocator(page).count(), 0);

    // The same refusal straight from the server, with no browser checks at all (a plain form post).
    const noJs = await browser().newContext({ javaScriptEnabled: false });
    const cookies = await page.context().cookies(url(ACME, '/'));
    await noJs.addCookies(cookies);
    const plain = await noJs.newPage();
    await plain.goto(url(ACME, '/skills/csv-summary'));
    const plainForm = plain.locator('form[data-testid=run-form]');
    await plainForm.locator('input[name=data]').setInputFiles(csv.file);
    await plainForm.evaluate((f) => {
        f.noValidate = true;
        const n = f.querySelector('input[name=top_values]');
        n.removeAttribute('max');
        n.value = '99';
    });
    await plainForm.getByRole('button', { name: 'Run', exact: true }).click();
    await plain.waitForLoadState();
    await alertLocator(plain).first().waitFor({ timeout: 30_000 });
    assert.equal(new URL(plain.url()).pathname, '/skills/csv-summary', 'a plain post comes back to the skill page');
    alerts = (await alertLocator(plain).allTextContents()).join(' | ');
    t.diagnostic(`csv-summary with top_values=99, no JavaScript: ${alerts}`);
    assert.match(alerts, /top_values|Top values per text column/i, `the server's message names top_values: ${alerts}`);
    await noJs.close();

    // No execution was created by any of them.
    const after = await historyIds(page);
    assert.deepEqual(after.filter((x) => !before.includes(x)), [], 'refused input created an execution');
    await s.close();
});

test('history lists the runs and filters them by status, skill and user', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');

    // A run that succeeds (unless the first test already made one)…
    let succeeded = runs.csvSummary;
    if (!succeeded) {
        await gotoHydrated(page, url(ACME, '/skills/csv-summary'));
        await page.locator('form[data-testid=run-form] input[name=data]').setInputFiles(salesCsv().file);
        succeeded = (await submitRun(page)).id;
        await waitSucceeded(page);
    }
    // …and one left waiting for confirmation, then cancelled.
    const orders = ordersCsv();
    await gotoHydrated(page, url(ACME, '/skills/purge-old-rows'));
    const form = page.locator('form[data-testid=run-form]');
    await form.locator('input[name=data]').setInputFiles(orders.file);
    await form.locator('input[name=date_column]').fill(orders.dateColumn);
    await form.locator('input[name=cutoff]').fill(orders.cutoff);
    const { id: waiting } = await submitRun(page);
    assert.equal(await statusLocator(page).getAttribute('data-status'), 'awaiting_confirmation');

    // Unfiltered, the history lists both.
    let ids = await historyIds(page);
    for (const id of [succeeded, waiting]) assert.ok(ids.includes(id), `history lists execution ${id} (got ${ids})`);
    let rows = await historyRows(page);
    assert.equal(rows.find((r) => r.id === waiting).status, 'awaiting_confirmation');
    assert.equal(rows.find((r) => r.id === succeeded).status, 'succeeded');
    // In people's words.
    assert.equal(rows.find((r) => r.id === waiting).shown, 'Waiting for confirmation');
    assert.equal(rows.find((r) => r.id === succeeded).shown, 'Succeeded');

    // Filter by status through the form.
    const filter = page.locator('form').filter({ has: page.locator('select[name=status]') });
    assert.equal(((await filter.getAttribute('method')) ?? 'get').toLowerCase(), 'get');
    assert.equal(await filter.locator('select[name=skill]').count(), 1);
    assert.equal(await filter.locator('input[name=user]').count(), 1);
    await filter.locator('select[name=status]').selectOption('succeeded');
    const submit = filter.locator('button[type=submit], input[type=submit], button:not([type])');
    if (await submit.count()) await submit.first().click();
    else await filter.evaluate((f) => f.requestSubmit());
    await page.waitForURL((u) => u.searchParams.get('status') === 'succeeded');
    rows = await eventually(
        () => historyRows(page),
        (rs) => rs.length > 0 && rs.every((r) => r.status === 'succeeded'),
        'after filtering by status=succeeded every row is succeeded',
    );
    const shown = rows.map((r) => r.id);
    assert.ok(shown.includes(succeeded), `the succeeded run ${succeeded} is listed`);
    assert.ok(!shown.includes(waiting), `the waiting run ${waiting} is filtered out`);

    // The same filter by address, rendered by the server.
    await historyIds(page, '?status=succeeded');
    rows = await historyRows(page);
    assert.ok(rows.length > 0 && rows.every((r) => r.status === 'succeeded'), `server-rendered filter: ${JSON.stringify(rows)}`);

    // By skill, and by user.
    await historyIds(page, '?skill=purge-old-rows');
    rows = await historyRows(page);
    assert.ok(rows.some((r) => r.id === waiting), 'the purge run is listed under its skill');
    assert.ok(!rows.some((r) => r.id === succeeded), 'the csv-summary run is not listed under purge-old-rows');
    assert.ok(rows.every((r) => /purge-old-rows|Purge old rows/.test(r.text)), `only purge-old-rows runs: ${JSON.stringify(rows)}`);
    await historyIds(page, '?user=acme-user');
    rows = await historyRows(page);
    assert.ok(rows.some((r) => r.id === succeeded) && rows.some((r) => r.id === waiting), 'both runs under acme-user');
    await historyIds(page, `?user=nobody-${suffix()}`);
    assert.equal((await historyRows(page)).length, 0, 'no runs for an unknown user');
    // The empty history says why and leads back to all of it.
    assert.match(await page.getByTestId('empty').textContent(), /No execution matches these filters/);
    await page.getByTestId('empty').getByRole('link', { name: 'Show all executions', exact: true }).click();
    await page.locator('table[data-testid=executions]').waitFor();

    // Cancelling the waiting run: it shows as cancelled, and under that filter.
    await gotoHydrated(page, url(ACME, `/executions/${waiting}`));
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await waitStatus(page, ['cancelled'], 20_000);
    await waitHydrated(page);
    assert.equal(await page.getByRole('button', { name: 'Cancel', exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Confirm and run', exact: true }).count(), 0);
    ids = await historyIds(page, '?status=cancelled');
    assert.ok(ids.includes(waiting), `the cancelled run ${waiting} is listed under cancelled`);
    assert.ok(!ids.includes(succeeded));
    await s.close();
});

test('acme-user runs the Excel summariser, a skill with packages (openpyxl), from the Skills menu on an uploaded workbook', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const tag = suffix();
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await page.getByRole('navigation').getByRole('link', { name: 'Skills', exact: true }).click();
    const row = page.locator('table[data-testid=skills] tr[data-skill="excel-summary"]');
    await row.waitFor();
    await row.locator('a[href$="/skills/excel-summary"]').click();
    const form = page.locator('form[data-testid=run-form]');
    await form.waitFor();
    await waitHydrated(page);
    await form.locator('input[name=workbook][type=file]').setInputFiles({
        name: `sales-${tag}.xlsx`,
        mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        buffer: xlsxWorkbook(`Sales ${tag}`, [['region', 'units'], ['north', 12], ['south', 7], ['east', 3]]),
    });
    await submitRun(page);
    // The first run of its lock may build the environment (from the wheelhouse): allow for it.
    const status = await waitStatus(page, FINAL, RUN_TIMEOUT * 2);
    if (status !== 'succeeded') {
        const logs = await page.locator('[data-testid=logs]').textContent().catch(() => '?');
        assert.fail(`the run ended ${status}; logs: ${logs}`);
    }
    const { headers, rows } = await readTable(page.locator('table[data-testid=result]'));
    const column = (name) => rows.map((r) => r[headers.indexOf(name)]);
    assert.deepEqual(column('column'), ['region', 'units']);
    assert.deepEqual(column('sheet'), [`Sales ${tag}`, `Sales ${tag}`]);
    assert.equal(column('total')[1], '22', `openpyxl read the numbers: ${JSON.stringify(rows)}`);
    await page.locator('a[data-testid=artifact]', { hasText: 'summary.xlsx' }).waitFor();
    await s.close();
});

test('a command-line script on a folder: a .zip chosen on the form arrives unpacked, its report is kept and the log it left is named, on a phone too', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn(page, ACME, 'acme-user');
    await openSkillFromList(page, 'find-duplicates');
    const form = page.locator('form[data-testid=run-form]');
    const folder = form.locator('input[name=folder][type=file]');
    assert.equal(await folder.count(), 1, 'a file input named folder');
    assert.equal(await folder.getAttribute('multiple'), '', 'several files may be chosen at once');

    const tag = suffix();
    const zip = zipArchive({
        [`photos-${tag}/a-${tag}.jpg`]: 'the same bytes',
        [`photos-${tag}/trip/copy-${tag}.jpg`]: 'the same bytes',
        [`photos-${tag}/b-${tag}.jpg`]: 'other bytes',
    });
    await folder.setInputFiles({ name: `photos-${tag}.zip`, mimeType: 'application/zip', buffer: zip });
    const { id } = await submitRun(page);
    await waitSucceeded(page);
    assert.match(await page.locator('[data-testid=logs]').textContent(), /Scanned 3 files: 1 groups of duplicates/);

    // The report the script wrote into its working folder is kept by its glob.
    const artifact = page.locator('a[data-testid=artifact]', { hasText: 'duplicates.csv' });
    await artifact.waitFor();
    const report = await fetchInPage(page, new URL(await artifact.getAttribute('href'), page.url()).pathname);
    assert.equal(report.status, 200);
    assert.equal(report.text, `group,file,size\r\n1,a-${tag}.jpg,14\r\n1,trip/copy-${tag}.jpg,14\r\n`);

    // Its own log was not kept: the page says so instead of losing it silently.
    const note = page.locator('[data-testid=written-outside]');
    await note.waitFor();
    assert.equal((await note.textContent()).trim(), '1 file was written outside output/: dupfinder.log');
    assert.ok(await note.isVisible());
    // The note wraps within a phone's width (long paths included).
    const box = await note.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `the note fits a 390 px phone: ${JSON.stringify(box)}`);
    assert.ok(id);
    await s.close();
});
