import { describe, expect, it } from 'vitest'
import { type CodeSample, codeSamples, markdownFiles, typeCheck } from './code-samples.js'

const samples: CodeSample[] = markdownFiles().flatMap(codeSamples)
const checked = samples.filter((sample) => sample.mode === '')
const fragments = samples.filter((sample) => sample.mode === 'fragment')

describe('the TypeScript samples of README.md and docs/', () => {
  it('are either complete modules or marked as fragments, nothing else', () => {
    const unknown = samples.filter((sample) => sample.mode !== '' && sample.mode !== 'fragment')

    expect(unknown.map((sample) => `${sample.file}:${sample.line} ${sample.mode}`)).toEqual([])
    expect(checked.length).toBeGreaterThan(fragments.length)
  })

  it('type-check against the package, every one that is not a fragment', () => {
    const errors = typeCheck(checked)

    expect(errors.map((error) => `${error.where}: ${error.message}`)).toEqual([])
  })

  it('report the fragments, which are shown but not checked', () => {
    const list = fragments.map((sample) => `${sample.file}:${sample.line}`)
    console.info(
      `${checked.length} samples type-checked; fragments not checked: ${list.join(', ')}`,
    )

    expect(list.every((where) => /^(README|docs\/).+:\d+$/.test(where))).toBe(true)
  })

  it('find an error when a sample is wrong, so a broken sample cannot pass', () => {
    const code = "const n: number = 'one'"
    const broken = { file: 'docs/x.md', line: 1, mode: '', code, context: '' }

    expect(typeCheck([broken])).toEqual([
      { where: 'docs/x.md:1', message: "Type 'string' is not assignable to type 'number'." },
    ])
  })
})
