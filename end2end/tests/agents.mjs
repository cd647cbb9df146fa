// Local agents on a tenant front: acme's admin makes an agent token with its labels on /agents (the
// secret and the command to start an agent shown once), starts a real agent with it
// (target/debug/execgov-cli, which registers and exits at once with --max-runs 0), sees it listed
// online with the token's labels, and
// revokes it: the page shows it revoked and the agent's next call is refused. A member gets no
// Agents link, the page refuses them, and so do its server functions.
//
// Needs the CLI built beside the server: cargo build -p execgov-cli.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
    ACME,
    PORT,
    TEST_TIMEOUT,
    alertLocator,
    browserForFile,
    gotoHydrated,
    openPage,
    signIn,
    suffix,
    tableRows,
    url,
} from '../support.mjs';

const browser = browserForFile();

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = process.env.EXECGOV_CLI || join(ROOT, 'target/debug/execgov-cli');
/** How the CLI reaches the server (it need not resolve *.localhost as browsers do). */
const SERVER = `http://127.0.0.1:${PORT}`;

/** Runs the CLI with its config folder in `configDir`; resolves to { code, stdout, stderr }. */
function cli(configDir, args) {
    const env = { ...process.env, EXECGOV_CONFIG_DIR: configDir };
    // Nothing from the caller's environment may pick another server, host or token.
    for (const name of ['EXECGOV_SERVER', 'EXECGOV_HOST', 'EXECGOV_AGENT_TOKEN']) delete env[name];
    return new Promise((resolve) => {
        execFile(CLI, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
            resolve({ code, stdout, stderr });
        });
    });
}

const agentsTable = (page) => page.locator('table[data-testid=agents]');

/** The cells of an agent's row: name, host name, machine, labels, status, last seen, running,
 *  version, token, (revoke). */
async function agentCells(page, id) {
    const row = agentsTable(page).locator(`tr[data-agent="${id}"]`);
    await row.waitFor();
    return (await row.locator('td').allTextContents()).map((c) => c.trim());
}

test('acme-admin makes an agent token, an agent registers with it, is listed online and is revoked', { timeout: TEST_TIMEOUT * 2 }, async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: build it with cargo build -p execgov-cli`);
    const tag = suffix();
    const tokenName = `e2e-agents-${tag}`;
    const agentName = `e2e-agent-${tag}`;
    const configDir = await mkdtemp(join(tmpdir(), 'execgov-e2e-agent-'));
    const s = await openPage(browser());
    const { page } = s;
    try {
        await signIn(page, ACME, 'acme-admin');
        await page.getByRole('link', { name: 'Agents', exact: true }).click();
        await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
        await page.locator('table[data-testid=agent-tokens]').waitFor();

        // An agent token: the secret and the start command, once.
        await page.locator('input[name=name]').fill(tokenName);
        await page.locator('input[name=labels]').fill('e2e.gpu, e2e');
        await page.getByRole('button', { name: 'Create agent token', exact: true }).click();
        const secretBox = page.locator('[data-testid=new-agent-token] [data-testid=agent-token-secret]');
        await secretBox.waitFor();
        assert.deepEqual(await alertLocator(page).allTextContents(), []);
        const secret = (await secretBox.textContent()).trim();
        assert.match(secret, /^egv_\S{20,}$/);
        const command = (await page.locator('[data-testid=agent-command]').textContent()).trim();
        assert.equal(
            command,
            // *.localhost is the browser's; the CLI is told the loopback address and the Host.
            `execgov-cli agent start --server ${SERVER} --host ${ACME} --token ${secret}`,
        );
        assert.equal(
            (await page.locator('[data-testid=new-agent-token-labels]').textContent()).trim(),
            'e2e, e2e.gpu',
        );
        const tokenRow = page.locator('table[data-testid=agent-tokens] tr', { hasText: tokenName });
        await tokenRow.waitFor();
        assert.ok((await tokenRow.textContent()).includes('acme-admin'), 'the owner is listed');
        assert.equal(
            (await tokenRow.locator('[data-testid=token-labels]').textContent()).trim(),
            '· labels: e2e, e2e.gpu',
        );
        // An agent token is not a personal one.
        await gotoHydrated(page, url(ACME, '/tokens'));
        assert.equal(await page.locator('table[data-testid=tokens] tr', { hasText: tokenName }).count(), 0);

        // A real agent registers with the command as shown (and, with --max-runs 0, exits at once).
        const [program, ...shown] = command.split(/\s+/);
        assert.equal(program, 'execgov-cli');
        const started = await cli(configDir, [
            ...shown, '--name', agentName, '--sandbox', 'off', '--max-runs', '0',
        ]);
        assert.equal(started.code, 0, `agent start failed:\n${started.stdout}\n${started.stderr}`);
        const id = started.stdout.match(/^Agent (\d+) /m)?.[1];
        assert.ok(id, `agent start names the agent:\n${started.stdout}`);
        const described = await cli(configDir, ['agent', 'describe', '--json']);
        assert.equal(described.code, 0, `agent describe failed:\n${described.stderr}`);
        const me = JSON.parse(described.stdout);
        assert.equal(String(me.agent.id), id);
        assert.deepEqual(me.agent.labels, ['e2e', 'e2e.gpu'], 'all its token allows');

        // Listed online, with its label and token.
        await gotoHydrated(page, url(ACME, '/agents'));
        let cells = await agentCells(page, id);
        assert.equal(cells[0], agentName);
        assert.ok(cells[1], 'the host name is shown');
        assert.equal(cells[2], me.agent.machine_id.slice(0, 8), 'the short machine id');
        assert.equal(cells[3], 'e2e, e2e.gpu');
        assert.equal(cells[4], 'online');
        // Last seen: how long ago, then (hydrated) the local time; the UTC time on hover.
        assert.match(cells[5], /^(just now|\d+ \w+ ago)( · \d{4}-\d\d-\d\d \d\d:\d\d)?$/);
        assert.equal(cells[6], '0');
        assert.equal(cells[7], me.agent.version);
        assert.equal(cells[8], tokenName);
        const rows = await tableRows(page, 'agents');
        assert.ok(rows.length >= 1);

        // Revoked: the page says so, and the agent's next call is refused (exit 6, forbidden).
        const row = agentsTable(page).locator(`tr[data-agent="${id}"]`);
        await row.getByRole('button', { name: 'Revoke', exact: true }).click();
        await row.locator('[data-testid=agent-status]', { hasText: 'revoked' }).waitFor();
        assert.equal(await row.getByRole('button', { name: 'Revoke' }).count(), 0);
        assert.deepEqual(await alertLocator(page).allTextContents(), []);
        await gotoHydrated(page, url(ACME, '/agents'));
        cells = await agentCells(page, id);
        assert.equal(cells[4], 'revoked');
        const refused = await cli(configDir, ['agent', 'describe']);
        assert.equal(refused.code, 6, `agent describe after revocation:\n${refused.stdout}\n${refused.stderr}`);
        assert.match(refused.stderr, /revoked/);

        // The token is revoked from its own table.
        const liveToken = page.locator('table[data-testid=agent-tokens] tr', { hasText: tokenName });
        await liveToken.getByRole('button', { name: 'Revoke', exact: true }).click();
        await liveToken.locator('.badge', { hasText: 'revoked' }).waitFor();
        assert.deepEqual(await alertLocator(page).allTextContents(), []);
    } finally {
        await rm(configDir, { recursive: true, force: true });
    }
    await s.close();
});

test('acme-user (a member) has no Agents link and is refused /agents and its server functions', { timeout: TEST_TIMEOUT }, async () => {
    const s = await openPage(browser());
    const { page } = s;
    await signIn(page, ACME, 'acme-user');
    assert.equal(await page.getByRole('link', { name: 'Agents', exact: true }).count(), 0);
    await gotoHydrated(page, url(ACME, '/agents'));
    await page.getByRole('heading', { name: 'Not allowed' }).waitFor();
    assert.equal(await page.locator('table').count(), 0, 'no table on /agents');
    const post = (path, body) =>
        page.evaluate(async ([p, b]) => {
            const r = await fetch(p, {
                method: 'POST',
                credentials: 'same-origin',
                headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
                body: b,
            });
            return r.status;
        }, [path, body]);
    assert.equal(await post('/api/list-agents', ''), 403);
    assert.equal(await post('/api/create-agent-token', 'name=sneaky&days=1&labels=lab'), 403);
    assert.equal(await post('/api/revoke-agent', 'id=1'), 403);
    await s.close();
});
