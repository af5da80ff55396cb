// Runs every benchmark script in this folder, one child process each, so that one's heap and JIT
// state does not colour the next. Figures are printed by the scripts themselves.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const folder = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
const scripts = readdirSync(folder)
  .filter((name) => name.endsWith('.bench.mjs'))
  .filter((name) => only.length === 0 || only.some((word) => name.includes(word)))
  .sort()

let failed = 0
for (const name of scripts) {
  console.log(`\n=== ${name}`)
  const result = spawnSync(process.execPath, ['--expose-gc', `${folder}/${name}`], {
    stdio: 'inherit',
  })
  if (result.status !== 0) failed++
}
process.exitCode = failed === 0 ? 0 : 1
