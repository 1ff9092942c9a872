import { describe, expect, it } from 'vitest'
import type { CollectionShape } from './mongo-declared.ts'
import { diffCollections } from './mongo-diff.ts'

// The comparison without a server: what the round trip on FerretDB cannot reach (validators,
// TTL and partial indexes, which FerretDB 1.x does not implement) is pinned down here.
const shape = (name: string, extra: Partial<CollectionShape> = {}): CollectionShape => ({
  name,
  indexes: [],
  validator: undefined,
  validationLevel: 'strict',
  validationAction: 'error',
  ...extra,
})

describe('diffCollections', () => {
  it('has nothing to do for equal collections, whatever the order of an options document', () => {
    const live = [
      shape('events', {
        indexes: [{ name: 'at_1', key: { at: 1 }, expireAfterSeconds: 60, unique: false }],
        validator: { $jsonSchema: { required: ['at'], bsonType: 'object' } },
      }),
    ]
    const declared = [
      shape('events', {
        indexes: [{ name: 'at_1', key: { at: 1 }, expireAfterSeconds: 60 }],
        validator: { $jsonSchema: { bsonType: 'object', required: ['at'] } },
      }),
    ]
    expect(diffCollections(live, declared)).toEqual({ up: [], down: [], notes: [] })
  })

  it('creates a missing collection with its validator and indexes; down drops it', () => {
    const declared = [
      shape('events', {
        indexes: [{ name: 'user_1', key: { user: 1 }, partialFilterExpression: { user: { $exists: true } } }],
        validator: { $jsonSchema: { bsonType: 'object' } },
        validationAction: 'warn',
      }),
    ]
    expect(diffCollections([], declared)).toEqual({
      up: [
        `await store.db.createCollection('events', {
  validator: { $jsonSchema: { bsonType: 'object' } },
  validationLevel: 'strict',
  validationAction: 'warn',
})`,
        `await store.db.collection('events').createIndexes([
  {
    key: { user: 1 },
    name: 'user_1',
    partialFilterExpression: { user: { $exists: true } },
  },
])`,
      ],
      down: ["await store.db.collection('events').drop()"],
      notes: ['down drops collection events, which up creates, with the documents written to it since'],
    })
  })

  it('drops and creates again an index whose definition changed, and down restores the old one', () => {
    const live = [shape('events', { indexes: [{ name: 'at_1', key: { at: 1 }, expireAfterSeconds: 3600 }] })]
    const declared = [shape('events', { indexes: [{ name: 'at_1', key: { at: 1 }, expireAfterSeconds: 60 }] })]
    expect(diffCollections(live, declared)).toEqual({
      up: [
        "await store.db.collection('events').dropIndex('at_1')",
        "await store.db.collection('events').createIndexes([{ key: { at: 1 }, name: 'at_1', expireAfterSeconds: 60 }])",
      ],
      down: [
        "await store.db.collection('events').dropIndex('at_1')",
        "await store.db.collection('events').createIndexes([{ key: { at: 1 }, name: 'at_1', expireAfterSeconds: 3600 }])",
      ],
      notes: [
        'index events.at_1 changes (expireAfterSeconds): up drops it and creates it again, so events is without it while it builds',
      ],
    })
  })

  it('sees a change in the order of a key, and drops an index that is not declared', () => {
    const live = [
      shape('posts', {
        indexes: [
          { name: 'by_author', key: { author: 1, at: -1 } },
          { name: 'old_1', key: { old: 1 }, sparse: true },
        ],
      }),
    ]
    const declared = [shape('posts', { indexes: [{ name: 'by_author', key: { at: -1, author: 1 } }] })]
    const diff = diffCollections(live, declared)
    expect(diff.up).toEqual([
      "await store.db.collection('posts').dropIndex('by_author')",
      "await store.db.collection('posts').dropIndex('old_1')",
      "await store.db.collection('posts').createIndexes([{ key: { at: -1, author: 1 }, name: 'by_author' }])",
    ])
    expect(diff.down).toEqual([
      "await store.db.collection('posts').dropIndex('by_author')",
      "await store.db.collection('posts').createIndexes([{ key: { old: 1 }, name: 'old_1', sparse: true }])",
      "await store.db.collection('posts').createIndexes([{ key: { author: 1, at: -1 }, name: 'by_author' }])",
    ])
    expect(diff.notes).toEqual([
      'index posts.by_author changes (key): up drops it and creates it again, so posts is without it while it builds',
    ])
  })

  it('sets, changes and removes a validator with collMod; down sets the old one back', () => {
    const live = [shape('users'), shape('events', { validator: { $jsonSchema: { required: ['at'] } } })]
    const declared = [shape('users', { validator: { $jsonSchema: { required: ['email'] } } }), shape('events')]
    const collMod = (name: string, validator: string) => `await store.db.command({
  collMod: '${name}',
  validator: ${validator},
  validationLevel: 'strict',
  validationAction: 'error',
})`
    const diff = diffCollections(live, declared)
    expect(diff.up).toEqual([collMod('users', "{ $jsonSchema: { required: ['email'] } }"), collMod('events', '{}')])
    expect(diff.down).toEqual([collMod('events', "{ $jsonSchema: { required: ['at'] } }"), collMod('users', '{}')])
  })

  it('never drops a collection that is not declared: a note says so', () => {
    const diff = diffCollections([shape('legacy', { indexes: [{ name: 'a_1', key: { a: 1 } }] })], [])
    expect(diff).toEqual({
      up: [],
      down: [],
      notes: [
        'collection legacy is in the database but not declared: autogenerate never drops a collection (declare it, or drop it in a migration of your own)',
      ],
    })
  })

  it('writes dates, regular expressions and awkward names as TypeScript', () => {
    const declared = [
      shape("it's", {
        indexes: [
          {
            name: 'recent',
            key: { 'a.b': 1 },
            partialFilterExpression: { at: { $gt: new Date('2026-01-01T00:00:00Z') }, s: /^x/i },
          },
        ],
      }),
    ]
    expect(diffCollections([shape("it's")], declared).up).toEqual([
      `await store.db.collection('it\\'s').createIndexes([
  {
    key: { 'a.b': 1 },
    name: 'recent',
    partialFilterExpression: { at: { $gt: new Date('2026-01-01T00:00:00.000Z') }, s: /^x/i },
  },
])`,
    ])
  })
})
