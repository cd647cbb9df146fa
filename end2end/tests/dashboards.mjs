// The home pages' dashboards, as people use them: a member's recent runs and most used skills with
// their pages one click away, a request to the assistant from the home page, an admin's waiting
// work (a pending submission, a run awaiting confirmation), the super-admin's console (tenants,
// health, pending reviews), and phones, where no dashboard scrolls sideways.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
    ACME,
    CONSOLE,
    PHONE,
    TEST_TIMEOUT,
    alertLocator,
    browserForFile,
    gotoHydrated,
    openPage,
    sidewaysOverflow,
    signIn,
    suffix,
    url,
    waitHydrated,
    zipArchive,
} from '../support.mjs';

const browser = browserForFile();

const block = (page, testid) => page.locator(`section[data-testid=${testid}]`);

/** The number a block's count badge shows. */
async function countOf(page, testid) {
    return Number((await block(page, testid).locator('[data-testid=count]').textContent()).trim());
}

/** Back to the dashboard the way a person goes home: the brand link in the header. */
async function goHome(page, host) {
    await page.locator('header a.brand').click();
    await page.waitForURL(url(host, '/'));
    await block(page, 'recent-runs').or(block(page, 'health')).first().waitFor();
    await waitHydrated(page);
}

/** Follows a block's "See all" link. */
async function seeAll(page, testid, title) {
    await block(page, testid).getByRole('link', { name: `See all: ${title}`, exact: true }).click();
}

/** As the signed-in acme user on a skill's page: fills the form with `fill` and runs it; returns the
 *  new execution's id once its page shows it. */
async function run(page, fill) {
    const form = page.locator('form[data-testid=run-form]');
    await form.waitFor();
    await waitHydrated(page);
    await fill(form);
    await form.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/executions\/\d+$/, { timeout: 30_000 });
    await page.locator('[data-testid=execution-status]').waitFor();
    return new URL(page.url()).pathname.split('/').pop();
}

/** Every element of the page's main part stays within the window's width, and main itself does not
 *  scroll sideways. Returns what sticks out, for the message. */
async function sticksOut(page) {
    return page.evaluate(() => {
        const main = document.querySelector('main');
        const width = window.innerWidth;
        const out = [];
        if (main.scrollWidth > main.clientWidth + 1) out.push(`main scrolls: ${main.scrollWidth} > ${main.clientWidth}`);
        for (const el of main.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.right > width + 1) {
                out.push(`${el.tagName.toLowerCase()}.${el.className} ends at ${Math.round(r.right)}`);
            }
        }
        return out;
    });
}

test('a member sees their recent runs and most used skills, opens them, and asks the assistant from home', { timeout: TEST_TIMEOUT * 2 }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    await block(page, 'recent-runs').waitFor();
    await block(page, 'ask-box').waitFor();
    assert.equal(await block(page, 'pending-submissions').count(), 0, 'a member gets no admin blocks');
    const before = await countOf(page, 'recent-runs');

    // From the most used skills to the skill list, then a run of the business day calculator.
    await seeAll(page, 'top-skills', 'most used skills');
    await page.waitForURL(url(ACME, '/skills'));
    await waitHydrated(page);
    await page.locator('table[data-testid=skills] tr[data-skill="business-days"] a[href$="/skills/business-days"]').click();
    await page.waitForURL(url(ACME, '/skills/business-days'));
    const id = await run(page, async (form) => {
        await form.locator('input[name=start]').fill('2024-03-01');
        await form.locator('input[name=end]').fill('2024-03-31');
    });

    // Home: the run is the newest of mine, and counted.
    await goHome(page, ACME);
    assert.equal(await countOf(page, 'recent-runs'), before + 1);
    const runs = block(page, 'recent-runs');
    const first = runs.locator('li').first();
    assert.match(await first.textContent(), new RegExp(`#${id} Business day calculator`));
    const others = await runs.locator('.dash-facts').allTextContents();
    assert.ok(others.every((t) => !/^by /.test(t.trim())), 'a member\'s own runs do not name who ran them');
    await first.locator(`a[href="/executions/${id}"]`).click();
    await page.waitForURL(url(ACME, `/executions/${id}`));
    await page.locator('main h1', { hasText: `Execution ${id}` }).waitFor();

    // The skill just used is among the most used, one click from its page.
    await goHome(page, ACME);
    const skill = block(page, 'top-skills').locator('a[href="/skills/business-days"]');
    assert.equal((await skill.textContent()).trim(), 'Business day calculator');
    await skill.click();
    await page.waitForURL(url(ACME, '/skills/business-days'));
    await page.locator('main h1', { hasText: 'Business day calculator' }).first().waitFor();

    // Asking from the home page starts a conversation and lands in it.
    await goHome(page, ACME);
    const request = `How many working days are there between 2024-05-01 and 2024-05-31? (${suffix()})`;
    const ask = page.locator('[data-testid=ask-box]');
    await ask.locator('textarea[name=request]').fill(request);
    await ask.getByRole('button', { name: 'Ask', exact: true }).click();
    await page.waitForURL(/\/assistant\/\d+(#turn-\d+)?$/, { timeout: 30_000 });
    await page.locator('[data-testid=conversation-title]').waitFor();
    assert.ok((await page.locator('main').textContent()).includes(request.slice(0, 40)), 'the request is in the conversation');
    assert.ok(await page.locator('li[data-skill="business-days"]').count() > 0, 'the business day calculator is recommended');
    await s.close();
});

test('an admin sees a pending submission and a run awaiting confirmation and opens each', { timeout: TEST_TIMEOUT * 2 }, async () => {
    // A member asks for a run that needs a confirmation.
    const member = await openPage(browser());
    await signIn(member.page, ACME, 'acme-user');
    await gotoHydrated(member.page, url(ACME, '/skills/purge-old-rows'));
    const csv = 'id,ordered,amount\n1,2023-01-05,10\n2,2024-02-01,30\n';
    const waiting = await run(member.page, async (form) => {
        await form.locator('input[name=data][type=file]').setInputFiles({ name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
        await form.locator('input[name=date_column]').fill('ordered');
        await form.locator('input[name=cutoff]').fill('2024-01-01');
    });
    await member.close();

    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-admin');
    await block(page, 'pending-submissions').waitFor();
    const pendingBefore = await countOf(page, 'pending-submissions');

    // The run waits for a confirmation: the newest in its block, one click from its page.
    const awaiting = block(page, 'awaiting-confirmation');
    assert.ok(await countOf(page, 'awaiting-confirmation') >= 1);
    await awaiting.locator(`a[href="/executions/${waiting}"]`).click();
    await page.waitForURL(url(ACME, `/executions/${waiting}`));
    await page.getByRole('button', { name: 'Confirm and run', exact: true }).waitFor();

    // A script submitted from the submissions page ("See all") then waits on the dashboard.
    await goHome(page, ACME);
    await seeAll(page, 'pending-submissions', 'pending submissions');
    await page.waitForURL(url(ACME, '/submissions'));
    await page.getByRole('link', { name: 'Submit a script', exact: true }).click();
    await page.waitForURL(url(ACME, '/submissions/new'));
    await waitHydrated(page);
    const slug = `dash-${suffix()}`;
    const name = `Dashboard probe ${slug}`;
    const archive = zipArchive({
        'main.sh': 'echo probe\n',
        'README.md': '# Dashboard probe\n',
        'skill.toml': `name = "${name}"\nslug = "${slug}"\ndescription = "Shows up on the dashboard."\noutput = "Nothing."\nrisk = "low"\n`,
    });
    const form = page.locator('form[data-testid=submit-form]');
    await form.locator('input[type=file][name=archive]').setInputFiles({ name: `${slug}.zip`, mimeType: 'application/zip', buffer: archive });
    await form.locator('textarea[name=scenario]').fill('Checks that the dashboard lists pending submissions.');
    await form.getByRole('button', { name: 'Submit for review', exact: true }).click();
    await page.waitForURL(/\/submissions\/\d+$/, { timeout: 30_000 });
    assert.deepEqual(await alertLocator(page).allTextContents(), []);
    const submission = new URL(page.url()).pathname.split('/').pop();

    await goHome(page, ACME);
    assert.equal(await countOf(page, 'pending-submissions'), pendingBefore + 1);
    const link = block(page, 'pending-submissions').locator(`a[href="/submissions/${submission}"]`);
    assert.equal((await link.textContent()).trim(), `#${submission} ${name}`);
    await link.click();
    await page.waitForURL(url(ACME, `/submissions/${submission}`));
    await page.locator('main h1', { hasText: `Submission #${submission}` }).waitFor();

    // The failed runs' "See all" opens the history filtered to them.
    await goHome(page, ACME);
    const failedAll = block(page, 'failed-runs').getByRole('link', { name: 'See all: failed in the last day', exact: true });
    assert.match(await failedAll.getAttribute('href'), /^\/executions\?status=failed&since=\d{4}-\d{2}-\d{2}$/);
    await s.close();
});

test('the super-admin sees tenants, pending reviews and platform health and clicks through', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, CONSOLE, 'superadmin');
    const tenants = block(page, 'tenants');
    await tenants.waitFor();
    assert.ok(await countOf(page, 'tenants') >= 3, 'Acme, Globex and the free edition at least');
    const health = block(page, 'health');
    assert.match(await health.locator('[data-testid=queue-depth]').textContent(), /^\d+ waiting for a worker/);
    assert.match(await health.locator('[data-testid=workers]').textContent(), /^\d+ busy of 2$/);
    assert.match(await health.locator('[data-testid=failures]').textContent(), /^\d+ in the last hour, \d+ in the last day$/);
    assert.ok(await block(page, 'recent-audit').locator('li').count() > 0, 'recent audit entries');

    // The newest tenant, one click from its page.
    const newest = tenants.locator('li a').first();
    const tenantName = (await newest.textContent()).trim();
    await newest.click();
    await page.waitForURL(/\/tenants\/\d+$/);
    assert.equal((await page.locator('h1[data-testid=tenant-title]').textContent()).trim(), tenantName);

    // Pending reviews: the count, and the full queue one click away.
    await goHome(page, CONSOLE);
    const pending = await countOf(page, 'pending-reviews');
    if (pending === 0) {
        assert.match(await block(page, 'pending-reviews').textContent(), /Nothing waiting for review/);
    } else {
        const review = block(page, 'pending-reviews').locator('li a').first();
        const href = await review.getAttribute('href');
        await review.click();
        await page.waitForURL(url(CONSOLE, href));
        await page.locator('main h1', { hasText: 'Submission #' }).waitFor();
        await goHome(page, CONSOLE);
    }
    await seeAll(page, 'pending-reviews', 'pending reviews');
    await page.waitForURL(url(CONSOLE, '/reviews'));
    await page.locator('main h1', { hasText: 'Script reviews' }).waitFor();
    await s.close();
});

test('at 390 px wide no dashboard scrolls sideways', { timeout: TEST_TIMEOUT }, async () => {
    for (const [host, who, testid] of [[ACME, 'acme-admin', 'failed-runs'], [CONSOLE, 'superadmin', 'health']]) {
        const s = await openPage(browser());
        const { page } = s;
        await page.setViewportSize(PHONE);
        await signIn(page, host, who);
        await block(page, testid).waitFor();
        assert.deepEqual(await sticksOut(page), [], `${host} as ${who}`);
        assert.ok(await sidewaysOverflow(page) <= 0, `${host} as ${who}: the page scrolls sideways`);
        // One column: the blocks are stacked, not side by side.
        const lefts = await page.locator('.dash-grid > section').evaluateAll((els) =>
            [...new Set(els.map((e) => Math.round(e.getBoundingClientRect().left)))]);
        assert.equal(lefts.length, 1, `one column on ${host}: ${lefts}`);
        await s.close();
    }
});
