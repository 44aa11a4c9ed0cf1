// The SQL dialects a Store can speak (store/db.ts opens them). A module of its own so that the
// migrations, which db.ts imports, can name the dialect without importing db.ts back.
export type Dialect = 'sqlite' | 'postgres';
