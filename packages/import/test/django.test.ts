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

// Django itself (5.2.20 with psycopg2, in a venv that scripts/python-tools.sh makes from PyPI when
// missing) migrates a project in its layout (manage.py, <app>/migrations/NNNN_name.py, an app
// nested in apps/), with Django's own contenttypes and auth, into the django_migrations table it
// creates; then `flux import django` takes over.
const { path: PYTHON_BIN, test: testWithDjango } = toolFromScript('python-tools.sh', 'Django')

const SETTINGS = `import os
from urllib.parse import unquote, urlsplit

database = urlsplit(os.environ["DATABASE_URL"])
SECRET_KEY = "flux-import-test"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "hotels", "apps.reviews"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database.path[1:],
        "USER": unquote(database.username or ""),
        "PASSWORD": unquote(database.password or ""),
        "HOST": database.hostname,
        "PORT": database.port,
    }
}
`

const MANAGE = `#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
`

/** A migration as \`makemigrations\` writes it. */
function migration(dependencies: string, operations: string): string {
  return `from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [${dependencies}]

    operations = [
${operations}
    ]
`
}

const HOTEL = `        migrations.CreateModel(
            name="Hotel",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
            ],
        ),`
const STARS = `        migrations.AddField(model_name="hotel", name="stars", field=models.IntegerField(null=True)),`
const ROOM = `        migrations.CreateModel(
            name="Room",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hotel", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="hotels.hotel")),
            ],
        ),`
const REVIEW = `        migrations.CreateModel(
            name="Review",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("hotel", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="hotels.hotel")),
            ],
        ),`

async function djangoProject(): Promise<string> {
  const root = await tempDir('django')
  const files: Record<string, string> = {
    'manage.py': MANAGE,
    'settings.py': SETTINGS,
    'hotels/__init__.py': '',
    'hotels/migrations/__init__.py': '',
    'hotels/migrations/0001_initial.py': migration('', HOTEL),
    'hotels/migrations/0002_hotel_stars.py': migration('("hotels", "0001_initial")', STARS),
    'hotels/migrations/0003_room.py': migration('("hotels", "0002_hotel_stars")', ROOM),
    'apps/__init__.py': '',
    'apps/reviews/__init__.py': '',
    'apps/reviews/migrations/__init__.py': '',
    'apps/reviews/migrations/0001_initial.py': migration('("hotels", "0001_initial")', REVIEW),
    'node_modules/some-package/migrations/0001_ignored.py': migration('', ''),
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(root, file, '..'), { recursive: true })
    await writeFile(join(root, file), text)
  }
  return root
}

/** `python manage.py migrate <app> <migration>` in the project at `root`, on the database at `url`. */
function djangoMigrate(url: string, root: string, app: string, name?: string): void {
  const result = spawnSync(
    join(PYTHON_BIN!, 'python'),
    ['manage.py', 'migrate', '--no-input', app, ...(name === undefined ? [] : [name])],
    { cwd: root, env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' },
  )
  expect(result.status, result.stderr).toBe(0)
}

/** The rows of django_migrations, as `app.name`, in the order Django applied them. */
async function djangoRows(url: string): Promise<string[]> {
  return withDatabase(url, async (client) =>
    (await client.query('select app, name from django_migrations order by id')).rows.map(
      (row) => `${row.app}.${row.name}`,
    ),
  )
}

describeWithServer('flux import django', (server) => {
  testWithDjango(
    "baselines django_migrations (its own apps' rows too), refusing while an app's migration is not applied",
    async () => {
      const url = await freshDatabase(server)
      const root = await djangoProject()
      // app by app, as a team's deploys did: Django's own first, then the project's
      djangoMigrate(url, root, 'contenttypes', '0001_initial')
      djangoMigrate(url, root, 'auth', '0001_initial')
      djangoMigrate(url, root, 'reviews', '0001_initial')
      djangoMigrate(url, root, 'hotels', '0002_hotel_stars')
      expect(await djangoRows(url)).toEqual([
        'contenttypes.0001_initial',
        'auth.0001_initial',
        'hotels.0001_initial',
        'reviews.0001_initial',
        'hotels.0002_hotel_stars',
      ])
      const project = await fluxProject()

      const pending = flux(project, url, 'import', 'django', '--store', 'catalog', '--from', root)
      expect(pending.code).toBe(2)
      expect(pending.stderr).toContain(
        `django's django_migrations has not applied 1 migration of its folder: ${join('hotels', 'migrations', '0003_room.py')};`,
      )
      expect(await filesOf(join(project, 'migrations'))).toEqual([])
      expect(await hasTable(url, 'flux_ledger')).toBe(false)

      await rm(join(root, 'hotels', 'migrations', '0003_room.py'))
      await importBaselineThenUp({
        project,
        url,
        tool: 'django',
        from: root,
        table: 'django_migrations',
        applied: [
          'contenttypes.0001_initial',
          'auth.0001_initial',
          'hotels.0001_initial',
          'reviews.0001_initial',
          'hotels.0002_hotel_stars',
        ],
        next: [
          {
            slug: 'hotels_room',
            up: 'create table hotels_room (id bigint generated by default as identity primary key, hotel_id bigint not null references hotels_hotel (id));',
            down: 'drop table hotels_room;',
          },
        ],
      })
      expect(await hasTable(url, 'hotels_room')).toBe(true)
      const rows = await withDatabase(
        url,
        async (client) => (await client.query('select count(*)::int as n from django_migrations')).rows,
      )
      expect(rows).toEqual([{ n: 5 }])

      // Django ran once more after flux took over (its own contenttypes app, one migration on):
      // importing again says so, and changes nothing
      djangoMigrate(url, root, 'contenttypes', '0002_remove_content_type_name')
      const files = await filesOf(join(project, 'migrations'))
      const later = flux(project, url, 'import', 'django', '--store', 'catalog', '--from', root)
      expect(later.code).toBe(2)
      expect(later.stderr).toMatch(
        /migrations\/\d{14}_baseline-from-django\.sql stands for 5 django migrations, but django_migrations now records 6 \(new: contenttypes\.0002_remove_content_type_name\): django ran after flux took over; nothing was imported/,
      )
      expect(await filesOf(join(project, 'migrations'))).toEqual(files)
    },
  )
})
