// Writes the JSON Schema of wmn.yaml from the zod definition it is generated from (src/config/schema.ts).
// test/config.test.ts fails when the committed file differs, so run this after changing the schema.
import { writeFileSync } from 'node:fs';
import { renderJsonSchema } from '../src/config/schema.js';

const target = new URL('../schema/wmn-config.schema.json', import.meta.url);
writeFileSync(target, renderJsonSchema());
console.log(`wrote ${target.pathname}`);
