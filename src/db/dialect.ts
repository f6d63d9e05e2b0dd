// Kysely over postgres.js, with prepared statements. kysely-postgres-js runs every query as
// `reserved.unsafe(text, params)`, which postgres.js sends as an unnamed statement that it describes first:
// two round trips per query, and PostgreSQL parses and plans the text every time. Here the same queries are
// sent with `prepare: true`, as postgres.js's own tagged templates are: each connection keeps one named
// prepared statement per query text, so a repeated query costs one round trip and no re-parse.
//
// A statement outside a transaction runs on the pool, as postgres.js's own `sql` calls do: no connection is
// reserved for it (postgres.js's reserve() builds a whole new `sql` object per call, 16–28% of the CPU of a
// one-query request, issue 15), and postgres.js may pipeline it behind others on a connection. A transaction
// reserves its connection at BEGIN and keeps it to COMMIT/ROLLBACK. The one Kysely feature that needs a
// session without a transaction, db.connection(), is therefore refused (connection.ts); nothing uses it.
// Measured in bench/drivers.ts and bench/api.ts; see docs/benchmarks.md.
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type postgres from 'postgres';

type Param = postgres.ParameterOrJSON<never>;

class PreparedConnection implements DatabaseConnection {
  /** The connection reserved at BEGIN, while a transaction runs; otherwise statements go to the pool. */
  reserved: postgres.ReservedSql | null = null;

  constructor(private readonly pool: postgres.Sql) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await (this.reserved ?? this.pool).unsafe(query.sql, query.parameters.slice() as Param[], {
      prepare: true,
    });
    const rows = Array.from(result.values()) as R[];
    if (result.command === 'INSERT' || result.command === 'UPDATE' || result.command === 'DELETE') {
      return { numAffectedRows: BigInt(result.count), rows };
    }
    return { rows };
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0)
      throw new Error('chunkSize must be a positive integer');
    const cursor = (this.reserved ?? this.pool)
      .unsafe(query.sql, query.parameters.slice() as Param[], { prepare: true })
      .cursor(chunkSize);
    for await (const rows of cursor) yield { rows: rows as R[] };
  }
}

class PreparedDriver implements Driver {
  constructor(private readonly sql: postgres.Sql) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PreparedConnection(this.sql);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as PreparedConnection;
    c.reserved ??= await this.sql.reserve();
    const level = settings.isolationLevel;
    await c.executeQuery(CompiledQuery.raw(level ? `start transaction isolation level ${level}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as PreparedConnection;
    c.reserved?.release();
    c.reserved = null;
  }

  async destroy(): Promise<void> {
    await this.sql.end();
  }
}

export class PostgresJsPreparedDialect implements Dialect {
  constructor(private readonly sql: postgres.Sql) {}

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    return new PreparedDriver(this.sql);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
}
