// Runs every benchmark script in this folder, one child process each, so that one's heap and JIT
// state does not colour the next. Figures are printed by the scripts themselves.
//
//   node bench/run.mjs                  every quick script (about a minute; docs/performance.md)
//   node bench/run.mjs resign runner    the scripts whose names contain one of the words
//   BENCH_SLOW=1 node bench/run.mjs     the SQL ones too (sqlite-resign, postgres-resign: minutes)
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const folder = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
// Scripts that take many minutes: run when named, or with BENCH_SLOW=1.
const SLOW = ['sqlite-resign.bench.mjs', 'postgres-resign.bench.mjs']
const slowToo = process.env.BENCH_SLOW === '1'
const scripts = readdirSync(folder)
  .filter((name) => name.endsWith('.bench.mjs'))
  .filter((name) => only.length === 0 || only.some((word) => name.includes(word)))
  .filter((name) => slowToo || only.length > 0 || !SLOW.includes(name))
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
