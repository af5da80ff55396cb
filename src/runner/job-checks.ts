import type { JobDefinition } from './job.js'

/**
 * Checks the shape of a job definition.
 *
 * @throws {TypeError} A field is missing or has the wrong type, or an update name repeats.
 * @throws {RangeError} An update's `ordering` is not a safe integer.
 */
export function checkJobDefinition(definition: JobDefinition<unknown>): void {
  if (typeof definition !== 'object' || definition === null) {
    throw new TypeError('A job definition must be an object')
  }
  checkName('The job name', definition.name)
  if (definition.validate !== undefined && typeof definition.validate !== 'function') {
    throw new TypeError(`validate of job ${definition.name} must be a function`)
  }
  if (!Array.isArray(definition.updates) || definition.updates.length === 0) {
    throw new TypeError(`Job ${definition.name} must define at least one update`)
  }

  const names = new Set<string>()
  for (const update of definition.updates) {
    checkName(`An update name of job ${definition.name}`, update?.name)
    if (names.has(update.name)) throw new TypeError(`Update ${update.name} is defined twice`)

    names.add(update.name)
    checkUpdate(update)
  }
}

function checkName(label: string, name: unknown): void {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`${label} must be a non-empty string, got ${String(name)}`)
  }
}

function checkUpdate(update: JobDefinition<unknown>['updates'][number]): void {
  if (typeof update.handler !== 'function') {
    throw new TypeError(`Update ${update.name} needs a handler function`)
  }
  const capabilities = update.capabilities ?? []
  if (!Array.isArray(capabilities) || capabilities.some((name) => typeof name !== 'string')) {
    throw new TypeError(`capabilities of update ${update.name} must be an array of strings`)
  }
  if (update.dependsOn != null && typeof update.dependsOn !== 'string') {
    throw new TypeError(`dependsOn of update ${update.name} must be a string or null`)
  }
  if (update.ordering !== undefined && !Number.isSafeInteger(update.ordering)) {
    throw new RangeError(`ordering of update ${update.name} must be a safe integer`)
  }
  if (update.initialProgress !== undefined && typeof update.initialProgress !== 'function') {
    throw new TypeError(`initialProgress of update ${update.name} must be a function`)
  }
}
