// The store drivers the CLI tests read the real servers with: the adapters' dependencies, not
// this package's, so they are loaded from where each adapter finds them.

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const driverOf = (adapter: string, driver: string) => createRequire(require.resolve(adapter))(driver)

export interface PgClient {
  connect(): Promise<void>
  query<Row = Record<string, any>>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>
  end(): Promise<void>
}

export const pg = driverOf('@flux/pg', 'pg') as {
  Client: new (options: { connectionString: string | undefined }) => PgClient
}

export const { Redis } = driverOf('@flux/redis', 'ioredis') as {
  Redis: new (
    url: string,
  ) => {
    keys(pattern: string): Promise<string[]>
    get(key: string): Promise<string | null>
    del(...keys: string[]): Promise<number>
    disconnect(): void
  }
}

export const { MongoClient } = driverOf('@flux/mongo', 'mongodb') as {
  MongoClient: new (
    url: string,
  ) => {
    connect(): Promise<unknown>
    db(name: string): {
      listCollections(): { toArray(): Promise<{ name: string }[]> }
      collection(name: string): { find(): { toArray(): Promise<Record<string, unknown>[]> } }
      dropDatabase(): Promise<unknown>
    }
    close(): Promise<void>
  }
}
