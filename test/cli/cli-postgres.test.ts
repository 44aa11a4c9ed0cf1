// The admin command line on PostgreSQL (when TEST_DATABASE_URL is set): the cases are in cli-cases.ts.
import { databaseKinds } from '../helpers/databases.js';
import { cliTests } from './cli-cases.js';

if (databaseKinds().includes('postgres')) cliTests('postgres');
