// The admin command line on SQLite: the cases are in cli-cases.ts.
import { databaseKinds } from '../helpers/databases.js';
import { cliTests } from './cli-cases.js';

if (databaseKinds().includes('sqlite')) cliTests('sqlite');
