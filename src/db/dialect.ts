// Kysely over postgres.js, with prepared statements. kysely-postgres-js runs every query as
// `reserved.unsafe(text, params)`, which postgres.js sends as an unnamed statement that it describes first:
// two round trips per query, and PostgreSQL parses and plans the text every time. Here the same queries are
// sent with `prepare: true`, as postgres.js's own tagged templates are: each connection keeps one named
// prepared statement per query text, so a repeated query costs one round trip and no re-parse. Connections
// are handled exactly as before (one reserved connection per Kysely connection, so transactions and
// db.connection() keep their session). Measured in bench/drivers.ts; see docs/benchmarks.md.
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
  constructor(readonly reserved: postgres.ReservedSql) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.reserved.unsafe(query.sql, query.parameters.slice() as Param[], {
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
    const cursor = this.reserved
      .unsafe(query.sql, query.parameters.slice() as Param[], { prepare: true })
      .cursor(chunkSize);
    for await (const rows of cursor) yield { rows: rows as R[] };
  }
}

class PreparedDriver implements Driver {
  constructor(private readonly sql: postgres.Sql) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PreparedConnection(await this.sql.reserve());
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel;
    await connection.executeQuery(
      CompiledQuery.raw(level ? `start transaction isolation level ${level}` : 'begin'),
    );
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PreparedConnection).reserved.release();
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
