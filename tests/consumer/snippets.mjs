// Writes README.md's tested snippets to files: each ```ts / ```js block right after a line
// `<!-- consumer-test: NAME.EXT -->` becomes NAME.EXT in the output folder. Exactly the README's text.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [readme, out] = process.argv.slice(2);
const lines = readFileSync(readme, 'utf8').split('\n');
mkdirSync(out, { recursive: true });
const written = [];
for (let i = 0; i < lines.length; i++) {
  const m = /^<!-- consumer-test: ([\w.-]+) -->$/.exec(lines[i].trim());
  if (!m) continue;
  if (!/^```(ts|js)$/.test(lines[i + 1] ?? '')) throw new Error(`${readme}:${i + 2}: a \`\`\`ts or \`\`\`js block must follow the marker for ${m[1]}`);
  const end = lines.indexOf('```', i + 2);
  if (end < 0) throw new Error(`${readme}:${i + 2}: unterminated code block`);
  writeFileSync(join(out, m[1]), lines.slice(i + 2, end).join('\n') + '\n');
  written.push(m[1]);
}
if (!written.length) throw new Error(`${readme}: no <!-- consumer-test: ... --> snippets`);
console.log(`snippets: ${written.join(', ')}`);
