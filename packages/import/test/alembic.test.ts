import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { importBaselineThenUp } from './fixtures/ledger-only.ts'
import {
  describeWithServer,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  hasTable,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// Alembic is Python: its ledger is written here as Alembic creates it on PostgreSQL, and its
// history in its layout (alembic/versions/<revision>_<slug>.py), with a branch and its merge.

/** A revision file as `alembic revision` writes it (the typed template of Alembic ≥ 1.13). */
function revisionFile(revision: string, downRevision: string, message: string): string {
  return `"""${message}

Revision ID: ${revision}
Revises: ${downRevision === 'None' ? '' : downRevision.replace(/[()']/g, '')}
Create Date: 2026-01-01 00:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '${revision}'
down_revision: Union[str, Sequence[str], None] = ${downRevision}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("select 1")


def downgrade() -> None:
    op.execute("select 1")
`
}

const REVISIONS: [string, string, string][] = [
  ['1975ea83b712', 'None', 'create hotels'],
  ['27c6a30d7c24', "'1975ea83b712'", 'add stars'],
  ['3a1b5c9d0e11', "'27c6a30d7c24'", 'add rooms'],
  ['3b2c6d0e1f22', "'27c6a30d7c24'", 'add prices'],
  ['4d5e6f708192', "('3a1b5c9d0e11', '3b2c6d0e1f22')", 'merge rooms and prices'],
  ['5e6f70819203', "'4d5e6f708192'", 'add reviews'],
]

async function alembicFolder(): Promise<string> {
  const root = await tempDir('alembic')
  const versions = join(root, 'alembic', 'versions')
  await mkdir(versions, { recursive: true })
  await writeFile(join(versions, '__init__.py'), '')
  for (const [revision, down, message] of REVISIONS) {
    await writeFile(
      join(versions, `${revision}_${message.replace(/ /g, '_')}.py`),
      revisionFile(revision, down, message),
    )
  }
  return versions
}

/** alembic_version as Alembic creates it on PostgreSQL, holding the given head(s). */
async function alembicLedger(url: string, heads: string[]): Promise<void> {
  await withDatabase(url, async (client) => {
    await client.query(`CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
)`)
    for (const head of heads) await client.query('INSERT INTO alembic_version (version_num) VALUES ($1)', [head])
    // what those revisions made
    await client.query('create table hotels (id serial primary key, name text, stars integer)')
  })
}

describeWithServer('flux import alembic', (server) => {
  it("baselines the head in alembic_version and its ancestors through the revisions' graph (a branch and its merge)", async () => {
    const url = await freshDatabase(server)
    const versions = await alembicFolder()
    await alembicLedger(url, ['4d5e6f708192'])
    const project = await fluxProject()

    const pending = flux(project, url, 'import', 'alembic', '--store', 'catalog', '--from', versions)
    expect(pending.code).toBe(2)
    expect(pending.stderr).toContain(
      "alembic's alembic_version has not applied 1 migration of its folder: 5e6f70819203_add_reviews.py;",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)

    await rm(join(versions, '5e6f70819203_add_reviews.py'))
    await importBaselineThenUp({
      project,
      url,
      tool: 'alembic',
      from: versions,
      table: 'alembic_version',
      applied: ['1975ea83b712', '27c6a30d7c24', '3a1b5c9d0e11', '3b2c6d0e1f22', '4d5e6f708192'],
      next: [
        {
          slug: 'add_reviews',
          up: 'create table reviews (id serial primary key, hotel_id integer not null references hotels (id));',
          down: 'drop table reviews;',
        },
      ],
    })
    expect(await hasTable(url, 'reviews')).toBe(true)
    const rows = await withDatabase(
      url,
      async (client) => (await client.query('select version_num from alembic_version')).rows,
    )
    expect(rows).toEqual([{ version_num: '4d5e6f708192' }])
  })

  it('stops on a head in alembic_version that no revision file has', async () => {
    const url = await freshDatabase(server)
    const versions = await alembicFolder()
    await alembicLedger(url, ['ffffffffffff'])
    const project = await fluxProject()
    const missing = flux(project, url, 'import', 'alembic', '--store', 'catalog', '--from', versions)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "alembic's alembic_version records revision ffffffffffff as applied, but the versions folder has no file for it: nothing was imported",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
