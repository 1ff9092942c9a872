// Fleets (issue 21) on PostgreSQL: a schema per tenant, each with its own ledger. `flux up`
// runs the fleet's migrations in every member, `flux status` tells where each stands, a
// failed member stops new ones unless --keep-going, and the rules that keep a fleet's runs well
// defined are enforced at load.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeWithServer } from '@flux/core/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect, fleetProject, ledgerOf, type PgClient, tablesOf, tenantSql, uniquePrefix } from './fleet-helpers.ts'
import { flux } from './helpers.ts'

const CATALOG = `-- flux:store catalog
-- flux:up
create table plans (id int primary key);
`
const USERS = tenantSql('create table users (id int primary key, name text);', '-- flux:after app/0001_plans\n')
const ORDERS = tenantSql('create table orders (id int primary key, user_id int references users);')

describeWithServer('FLUX_TEST_PG_URL', 'a fleet of tenant schemas', () => {
  let client: PgClient
  beforeAll(async () => {
    client = await connect()
  })
  afterAll(async () => {
    await client?.end()
  })

  it('up brings every member to head; status says so; a member added later is migrated by the next up, the others untouched', async () => {
    const prefix = uniquePrefix('fleet')
    const dir = await fleetProject(prefix, {
      '0001_plans.sql': CATALOG.replace('plans', `${prefix}_catalog.plans`),
      '0002_users.sql': USERS,
      '0003_orders.sql': ORDERS,
    })
    const first = await flux(['up'], dir, { TENANTS: 'acme,globex,initech' })
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('fleet tenants: 3 members, 3 at their target (6 migrations applied)')
    for (const tenant of ['acme', 'globex', 'initech']) {
      expect(await tablesOf(client, `${prefix}_t_${tenant}`)).toEqual([
        'flux_ledger',
        'flux_ledger_lock',
        'orders',
        'users',
      ])
    }
    // the catalog's ledger has its own migration only; the fleet's are in the members
    expect(await tablesOf(client, `${prefix}_catalog`)).toEqual(['flux_ledger', 'flux_ledger_lock', 'plans'])

    const members = await flux(['status', '--fleet', 'tenants', '--members'], dir, { TENANTS: 'acme,globex,initech' })
    expect(members.code).toBe(0)
    expect(members.stdout).toContain('tenants fleet, 2 migrations: 3 members: 3 at head')
    expect(members.stdout).toMatch(/ {2}acme {2}at head\n {2}globex {2}at head\n {2}initech {2}at head\n/)

    const before = {
      acme: await ledgerOf(client, `${prefix}_t_acme`),
      globex: await ledgerOf(client, `${prefix}_t_globex`),
    }
    expect(before.acme.map((row) => row.split(' ')[0])).toEqual(['app/0002_users', 'app/0003_orders'])

    // hooli joins: status sees it behind, the next up migrates it alone
    const env = { TENANTS: 'acme,globex,initech,hooli' }
    const behind = await flux(['status', '--json'], dir, env)
    expect(behind.code).toBe(0)
    const [fleetBefore] = JSON.parse(behind.stdout).fleets
    expect(fleetBefore.summary).toEqual({ 'at-head': 3, behind: 1, dirty: 0, unreachable: 0 })
    expect(fleetBefore.members.find((member: { member: string }) => member.member === 'hooli')).toEqual({
      member: 'hooli',
      state: 'behind',
      applied: 0,
      pending: 2,
      dirty: [],
    })

    const second = await flux(['up', '--json'], dir, env)
    expect(second.code).toBe(0)
    const report = JSON.parse(second.stdout)
    expect(report.ok).toBe(true)
    expect(report.fleets).toEqual([
      {
        fleet: 'tenants',
        members: [
          { fleet: 'tenants', member: 'acme', state: 'done', steps: [] },
          { fleet: 'tenants', member: 'globex', state: 'done', steps: [] },
          { fleet: 'tenants', member: 'initech', state: 'done', steps: [] },
          { fleet: 'tenants', member: 'hooli', state: 'done', steps: ['app/0002_users', 'app/0003_orders'] },
        ],
      },
    ])
    expect(await tablesOf(client, `${prefix}_t_hooli`)).toEqual(['flux_ledger', 'flux_ledger_lock', 'orders', 'users'])
    expect(await ledgerOf(client, `${prefix}_t_acme`)).toEqual(before.acme)
    expect(await ledgerOf(client, `${prefix}_t_globex`)).toEqual(before.globex)

    const after = JSON.parse((await flux(['status', '--json'], dir, env)).stdout).fleets[0]
    expect(after.summary).toEqual({ 'at-head': 4, behind: 0, dirty: 0, unreachable: 0 })
    expect(after.members.map((member: { state: string }) => member.state)).toEqual([
      'at-head',
      'at-head',
      'at-head',
      'at-head',
    ])
  })

  it('a failed member stops new members (exit 1, named); --keep-going brings every other member to head and names it', async () => {
    const prefix = uniquePrefix('fleet')
    const dir = await fleetProject(prefix, { '0002_users.sql': USERS.replace('-- flux:after app/0001_plans\n', '') })
    // m01 already has a users table of its own: its migration fails
    await client.query(`create schema "${prefix}_t_m01"; create table "${prefix}_t_m01".users (id int)`)
    const tenants = Array.from({ length: 8 }, (_, index) => `m${String(index + 1).padStart(2, '0')}`)
    const env = { TENANTS: tenants.join(',') }

    const stopped = await flux(['up', '--concurrency', '1', '--json'], dir, env)
    expect(stopped.code).toBe(1)
    const report = JSON.parse(stopped.stdout)
    expect(report.ok).toBe(false)
    expect(report.error.message).toMatch(/^fleet tenants, member m01: .*relation "users" already exists/)
    const states = report.fleets[0].members.map((member: { member: string; state: string }) => member.state)
    expect(states).toEqual(['failed', ...tenants.slice(1).map(() => 'not-started')])
    expect(stopped.stderr).toContain('fleet tenants, member m01')
    expect(stopped.stderr).toContain('7 were not started')
    for (const tenant of tenants.slice(1)) expect(await tablesOf(client, `${prefix}_t_${tenant}`)).toEqual([])

    const going = await flux(['up', '--keep-going'], dir, env)
    expect(going.code).toBe(1)
    expect(going.stdout).toContain('fleet tenants: 8 members, 7 at their target (7 migrations applied), 1 failed')
    expect(going.stderr).toMatch(/ {2}m01: .*relation "users" already exists/)
    expect(going.stderr).toMatch(/error: fleet tenants, member m01: /)
    for (const tenant of tenants.slice(1)) {
      expect(await tablesOf(client, `${prefix}_t_${tenant}`)).toEqual(['flux_ledger', 'flux_ledger_lock', 'users'])
    }
    const status = JSON.parse((await flux(['status', '--json'], dir, env)).stdout).fleets[0]
    expect(status.summary).toEqual({ 'at-head': 7, behind: 1, dirty: 0, unreachable: 0 })
    expect(status.members[0]).toMatchObject({ member: 'm01', state: 'behind', pending: 1 })
  })

  it('refuses, with exit 2, what a fleet cannot do: uses another store, a dependency on it from outside, down without --yes, --member alone, an unknown member', async () => {
    const prefix = uniquePrefix('fleet')
    const env = { TENANTS: 'acme,globex' }
    const usesCatalog = await fleetProject(prefix, {
      '0001_plans.sql': CATALOG.replace('plans', `${prefix}_catalog.plans`),
      '0002_reads.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({ store: 'tenants', uses: ['catalog'], async up() {} })
`,
    })
    const uses = await flux(['up'], usesCatalog, env)
    expect(uses.code).toBe(2)
    expect(uses.stderr).toContain('migrations/0002_reads.ts: a migration of the fleet "tenants" uses "catalog"')

    const afterFleet = await fleetProject(prefix, {
      '0002_users.sql': USERS.replace('-- flux:after app/0001_plans\n', ''),
      '0003_plans.sql': `-- flux:store catalog\n-- flux:after app/0002_users\n-- flux:up\ncreate table ${prefix}_catalog.plans (id int);\n`,
    })
    const dependant = await flux(['up'], afterFleet, env)
    expect(dependant.stderr).toContain(
      'migrations/0003_plans.sql: depends on app/0002_users, a migration of the fleet "tenants"',
    )
    expect(dependant.code).toBe(2)
    // nothing ran anywhere
    expect(await tablesOf(client, `${prefix}_catalog`)).toEqual([])
    expect(await tablesOf(client, `${prefix}_t_acme`)).toEqual([])

    const dir = await fleetProject(prefix, { '0002_users.sql': USERS.replace('-- flux:after app/0001_plans\n', '') })
    expect((await flux(['up'], dir, env)).code).toBe(0)
    const down = await flux(['down', 'base', '--fleet', 'tenants'], dir, env)
    expect(down.code).toBe(2)
    expect(down.stderr).toContain(
      'flux down over the fleet "tenants" reverts migrations in every member: it needs --yes',
    )

    const memberAlone = await flux(['up', '--member', 'acme'], dir, env)
    expect(memberAlone.code).toBe(2)
    expect(memberAlone.stderr).toContain('--member needs --fleet')

    // a pending migration outside the fleet: the refusals below run nothing, it included
    await writeFile(
      join(dir, 'migrations', '0003_prices.sql'),
      `-- flux:store catalog\n-- flux:parents\n-- flux:up\ncreate table ${prefix}_catalog.prices (id int);\n`,
    )
    const unknown = await flux(['up', '--fleet', 'tenants', '--member', 'nobody'], dir, env)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('fleet "tenants" has no member "nobody"')
    const unknownFleet = await flux(['up', '--fleet', 'tenant'], dir, env)
    expect(unknownFleet.code).toBe(2)
    expect(unknownFleet.stderr).toContain('no fleet "tenant" in the config')
    expect(await tablesOf(client, `${prefix}_catalog`)).not.toContain('prices')
    // named right, the same command runs the rest of the graph first
    expect((await flux(['up', '--fleet', 'tenants', '--member', 'acme'], dir, env)).code).toBe(0)
    expect(await tablesOf(client, `${prefix}_catalog`)).toContain('prices')

    // still at head: none of the refused commands touched a member
    for (const tenant of ['acme', 'globex']) {
      expect(await tablesOf(client, `${prefix}_t_${tenant}`)).toEqual(['flux_ledger', 'flux_ledger_lock', 'users'])
    }
  })

  it('a board in a store that cannot keep one is refused before anything runs; one that cannot be read is reported, and every member visited', async () => {
    const prefix = uniquePrefix('fleet')
    const dir = await fleetProject(
      prefix,
      { '0002_users.sql': USERS.replace('-- flux:after app/0001_plans\n', '') },
      { board: true },
    )
    const env = { TENANTS: 'acme,globex' }
    const config = join(dir, 'flux.config.ts')
    const source = await readFile(config, 'utf8')
    const catalog = `catalog: pgStore({ url, schema: '${prefix}_catalog' }),`
    expect(source).toContain(catalog)

    // an fs store keeps no board
    await writeFile(
      config,
      `import { fsStore } from '@flux/fs'\n${source.replace(catalog, "catalog: fsStore({ root: './var/catalog' }),")}`,
    )
    const refused = await flux(['up'], dir, env)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('fleet "tenants": its board, the store "catalog", cannot keep one')
    expect(await tablesOf(client, `${prefix}_t_acme`)).toEqual([])

    // a board the runners cannot read (a table of that name, not a board): the run goes on
    await writeFile(config, source)
    await client.query(`create schema "${prefix}_catalog"; create table "${prefix}_catalog".flux_ledger_fleets (x int)`)
    const unreadable = await flux(['up'], dir, env)
    expect(unreadable.stderr).toContain(
      'warning: fleet tenants: the board in the store "catalog" could not be used, every member was visited instead: column "member" does not exist',
    )
    expect(unreadable.code).toBe(0)
    expect(unreadable.stdout).toContain('fleet tenants: 2 members, 2 at their target (2 migrations applied)')
  })

  it('down --fleet --yes reverts every member, and --member only one', async () => {
    const prefix = uniquePrefix('fleet')
    const dir = await fleetProject(prefix, {
      '0002_users.sql': `${USERS.replace('-- flux:after app/0001_plans\n', '')}-- flux:down\ndrop table users;\n`,
    })
    const env = { TENANTS: 'acme,globex' }
    const up = await flux(['up'], dir, env)
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    const one = await flux(['down', 'base', '--fleet', 'tenants', '--member', 'acme', '--yes'], dir, env)
    expect(one.code).toBe(0)
    expect(await tablesOf(client, `${prefix}_t_acme`)).toEqual(['flux_ledger', 'flux_ledger_lock'])
    expect(await tablesOf(client, `${prefix}_t_globex`)).toEqual(['flux_ledger', 'flux_ledger_lock', 'users'])
    const all = await flux(['down', 'base', '--fleet', 'tenants', '--yes'], dir, env)
    expect(all.code).toBe(0)
    expect(await tablesOf(client, `${prefix}_t_globex`)).toEqual(['flux_ledger', 'flux_ledger_lock'])
  })
})
