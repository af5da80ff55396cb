/**
 * The TypeScript samples of the Markdown docs, and a type check of them with the compiler API
 * against the package's sources (the tsconfig `paths`), held in memory: nothing is written to disk.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

/** The repository root. */
export const ROOT = join(import.meta.dirname, '..', '..')

/** One ```ts block of a Markdown file. */
export interface CodeSample {
  /** The Markdown file, relative to the root: `docs/runner.md`. */
  readonly file: string
  /** The 1-based line of the block's first line of code. */
  readonly line: number
  /** What follows `ts` on the opening fence: '' or 'fragment'. */
  readonly mode: string
  readonly code: string
  /**
   * Declarations the sample takes for granted (its imports of types, the host's own objects), from
   * an HTML comment `<!-- ts-sample-context … -->` right above the fence: checked, never shown.
   */
  readonly context: string
}

const CONTEXT_OPENING = '<!-- ts-sample-context'

/** The Markdown files whose samples are checked: README.md and every file in docs/. */
export function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'))
  return ['README.md', ...docs.sort().map((name) => `docs/${name}`)]
}

/** The ```ts and ```typescript blocks of a Markdown file, with their info strings. */
export function codeSamples(file: string): CodeSample[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const samples: CodeSample[] = []
  for (let index = 0; index < lines.length; index++) {
    const open = /^```(ts|typescript)\b\s*(.*)$/.exec(lines[index] as string)
    if (!open) continue

    const end = lines.findIndex((line, at) => at > index && line.startsWith('```'))
    const code = lines.slice(index + 1, end).join('\n')
    const context = contextAbove(lines, index)
    samples.push({ file, line: index + 2, mode: (open[2] ?? '').trim(), code, context })
    index = end
  }
  return samples
}

/** The text of a `ts-sample-context` comment ending on the line above `fence`, or ''. */
function contextAbove(lines: readonly string[], fence: number): string {
  if (lines[fence - 1]?.trim() !== '-->') return ''

  for (let index = fence - 2; index >= 0; index--) {
    if (lines[index]?.trim() === CONTEXT_OPENING)
      return lines.slice(index + 1, fence - 1).join('\n')
    if (lines[index]?.includes('-->')) return ''
  }
  return ''
}

/** A compiler error in a sample, located in its Markdown file. */
export interface SampleError {
  readonly where: string
  readonly message: string
}

/** The virtual path of a sample: beside its Markdown file, so imports resolve from the root. */
function virtualPath(sample: CodeSample): string {
  return join(ROOT, `${sample.file.replace(/[/.]/g, '_')}_line_${sample.line}.sample.ts`)
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json')
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT)
  return { ...parsed.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false }
}

/**
 * A module of the sample's code after its context; `export {}` keeps samples without imports out of
 * the global scope.
 */
function moduleText(sample: CodeSample): string {
  return `${sample.context}\n${sample.code}\nexport {}\n`
}

/**
 * Type-checks the samples as modules, all in one program, and returns their errors.
 */
export function typeCheck(samples: readonly CodeSample[]): SampleError[] {
  const options = compilerOptions()
  const byPath = new Map(samples.map((sample) => [virtualPath(sample), sample]))
  const host = ts.createCompilerHost(options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (path) => byPath.has(path) || fileExists.call(host, path)
  host.readFile = (path) => {
    const sample = byPath.get(path)
    return sample ? moduleText(sample) : readFile.call(host, path)
  }
  host.getSourceFile = (path, language, ...rest) => {
    const sample = byPath.get(path)
    if (!sample) return getSourceFile.call(host, path, language, ...rest)
    return ts.createSourceFile(path, moduleText(sample), language, true)
  }

  const program = ts.createProgram([...byPath.keys()], options, host)
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file && byPath.has(diagnostic.file.fileName))
    .map((diagnostic) => locate(diagnostic, byPath.get(diagnostic.file?.fileName ?? '')))
}

function locate(diagnostic: ts.Diagnostic, sample: CodeSample | undefined): SampleError {
  const file = diagnostic.file as ts.SourceFile
  const { line } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
  const contextLines = (sample?.context ?? '').split('\n').length
  const where =
    line < contextLines
      ? 'its ts-sample-context'
      : String((sample?.line ?? 0) + line - contextLines)
  return {
    where: `${sample?.file}:${where}`,
    message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '),
  }
}
