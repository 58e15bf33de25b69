// tsc copies only what it compiles: the SQL migrations and the dashboard's page and assets ship beside
// the compiled code that reads them.
import { cpSync } from 'node:fs';

cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true });
cpSync('src/web/assets', 'dist/web/assets', { recursive: true });
