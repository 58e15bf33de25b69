// tsc does not copy non-TS files: the SQL migrations ship beside the compiled store code.
import { cpSync } from 'node:fs';

cpSync('src/store/migrations', 'dist/store/migrations', { recursive: true });
