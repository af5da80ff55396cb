// Runs every benchmark script in this folder, one child process each, so that one's heap and JIT
// state does not colour the next. Figures are printed by the scripts themselves.
//
//   node bench/run.mjs                  every quick script (about a minute; docs/performance.md)
//   node bench/run.mjs resign runner    the scripts named so (a word that names none: every script
//                                       whose name contains it, such as `sqlite`)
//   BENCH_SLOW=1 node bench/run.mjs     the SQL ones too (sqlite-resign, postgres-resign: minutes)
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const folder = fileURLToPath(new URL('.', import.meta.url))
const only = process.argv.slice(2)
// Scripts that take many minutes: run when named, or with BENCH_SLOW=1.
const SLOW = ['sqlite-resign.bench.mjs', 'postgres-resign.bench.mjs']
const slowToo = process.env.BENCH_SLOW === '1'
const all = readdirSync(folder).filter((name) => name.endsWith('.bench.mjs'))

/** A word names a script by its whole name (`resign` is resign.bench.mjs only), else by a part. */
function chosen(word, name) {
  const exact = all.some((script) => script === `${word}.bench.mjs`)
  return exact ? name === `${word}.bench.mjs` : name.includes(word)
}

const scripts = readdirSync(folder)
  .filter((name) => name.endsWith('.bench.mjs'))
  .filter((name) => only.length === 0 || only.some((word) => chosen(word, name)))
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
