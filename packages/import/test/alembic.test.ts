import { spawnSync } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { importBaselineThenUp } from './fixtures/ledger-only.ts'
import {
  describeWithServer,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  hasTable,
  tempDir,
  toolFromScript,
  withDatabase,
} from './import-helpers.ts'

// Alembic itself (1.20.1 with SQLAlchemy and psycopg2, in a venv that scripts/python-tools.sh makes
// from PyPI when missing) upgrades a project in its layout (alembic.ini, alembic/env.py,
// alembic/versions/<revision>_<slug>.py), with a branch and its merge, into the alembic_version
// table it creates; then `flux import alembic` takes over.
const { path: PYTHON_BIN, test: testWithAlembic } = toolFromScript('python-tools.sh', 'Alembic')

/** env.py as a project writes it: online mode, the database's URL from the environment. */
const ENV_PY = `import os

from alembic import context
from sqlalchemy import create_engine

engine = create_engine(os.environ["DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
`

/** A revision file as `alembic revision` writes it (the typed template of Alembic ≥ 1.13). */
function revisionFile(revision: string, downRevision: string, message: string, up: string, down: string): string {
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
    ${up}


def downgrade() -> None:
    ${down}
`
}

/** revision, down_revision, message, upgrade(), downgrade(). */
const REVISIONS: [string, string, string, string, string][] = [
  [
    '1975ea83b712',
    'None',
    'create hotels',
    'op.execute("create table hotels (id serial primary key, name text)")',
    'op.execute("drop table hotels")',
  ],
  [
    '27c6a30d7c24',
    "'1975ea83b712'",
    'add stars',
    'op.add_column("hotels", sa.Column("stars", sa.Integer()))',
    'op.drop_column("hotels", "stars")',
  ],
  [
    '3a1b5c9d0e11',
    "'27c6a30d7c24'",
    'add rooms',
    'op.execute("create table rooms (id serial primary key, hotel_id integer not null references hotels (id))")',
    'op.execute("drop table rooms")',
  ],
  [
    '3b2c6d0e1f22',
    "'27c6a30d7c24'",
    'add prices',
    'op.execute("create table prices (hotel_id integer not null references hotels (id), amount numeric not null)")',
    'op.execute("drop table prices")',
  ],
  ['4d5e6f708192', "('3a1b5c9d0e11', '3b2c6d0e1f22')", 'merge rooms and prices', 'pass', 'pass'],
  [
    '5e6f70819203',
    "'4d5e6f708192'",
    'add reviews',
    'op.execute("create table reviews (id serial primary key, hotel_id integer not null references hotels (id))")',
    'op.execute("drop table reviews")',
  ],
]

/** An Alembic project (`alembic init` trimmed to what `upgrade` reads); returns its versions folder. */
async function alembicFolder(): Promise<string> {
  const root = await tempDir('alembic')
  const versions = join(root, 'alembic', 'versions')
  await mkdir(versions, { recursive: true })
  await writeFile(join(root, 'alembic.ini'), '[alembic]\nscript_location = %(here)s/alembic\npath_separator = os\n')
  await writeFile(join(root, 'alembic', 'env.py'), ENV_PY)
  await writeFile(join(versions, '__init__.py'), '')
  for (const [revision, down, message, up, downgrade] of REVISIONS) {
    await writeFile(
      join(versions, `${revision}_${message.replace(/ /g, '_')}.py`),
      revisionFile(revision, down, message, up, downgrade),
    )
  }
  return versions
}

/** `alembic upgrade <target>` in the project of `versions` on the database at `url`. */
function alembicUpgrade(url: string, versions: string, target: string): void {
  const database = new URL(url)
  database.protocol = 'postgresql+psycopg2:'
  const result = spawnSync(join(PYTHON_BIN!, 'alembic'), ['upgrade', target], {
    cwd: join(versions, '..', '..'),
    env: { ...process.env, DATABASE_URL: database.toString() },
    encoding: 'utf8',
  })
  expect(result.status, result.stderr).toBe(0)
}

/** The rows of alembic_version. */
async function alembicHeads(url: string): Promise<string[]> {
  return withDatabase(url, async (client) =>
    (await client.query('select version_num from alembic_version order by version_num')).rows.map(
      (row) => row.version_num,
    ),
  )
}

describeWithServer('flux import alembic', (server) => {
  testWithAlembic(
    "baselines the head in alembic_version and its ancestors through the revisions' graph (a branch and its merge)",
    async () => {
      const url = await freshDatabase(server)
      const versions = await alembicFolder()
      const project = await fluxProject()
      // both branches upgraded, not yet merged: alembic_version holds two heads
      alembicUpgrade(url, versions, '3a1b5c9d0e11')
      alembicUpgrade(url, versions, '3b2c6d0e1f22')
      expect(await alembicHeads(url)).toEqual(['3a1b5c9d0e11', '3b2c6d0e1f22'])
      const branches = flux(project, url, 'import', 'alembic', '--store', 'catalog', '--from', versions)
      expect(branches.code).toBe(2)
      expect(branches.stderr).toContain(
        "alembic's alembic_version has not applied 2 migrations of its folder: 4d5e6f708192_merge_rooms_and_prices.py, 5e6f70819203_add_reviews.py;",
      )
      // the merge: one head again
      alembicUpgrade(url, versions, '4d5e6f708192')
      expect(await alembicHeads(url)).toEqual(['4d5e6f708192'])

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
      expect(await alembicHeads(url)).toEqual(['4d5e6f708192'])
    },
  )

  testWithAlembic('stops on a head in alembic_version that no revision file has', async () => {
    const url = await freshDatabase(server)
    const versions = await alembicFolder()
    // upgraded to the last revision, whose file is then gone (a checkout of an older branch)
    alembicUpgrade(url, versions, 'head')
    expect(await alembicHeads(url)).toEqual(['5e6f70819203'])
    await rm(join(versions, '5e6f70819203_add_reviews.py'))
    const project = await fluxProject()
    const missing = flux(project, url, 'import', 'alembic', '--store', 'catalog', '--from', versions)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "alembic's alembic_version records revision 5e6f70819203 as applied, but the versions folder has no file for it: nothing was imported",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
