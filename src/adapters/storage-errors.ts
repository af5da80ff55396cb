import { MatrixBackgroundUpdatesError } from '../matrix/errors.js'

/** A queue insert named an update that is already queued. None of the rows of that insert was added. */
export class DuplicateUpdateError extends MatrixBackgroundUpdatesError {
  /** The update names that were already queued. */
  readonly updateNames: readonly string[]

  constructor(updateNames: readonly string[]) {
    super('ERR_DUPLICATE_UPDATE', `Background update already queued: ${updateNames.join(', ')}`)
    this.updateNames = updateNames
  }
}

/** A queued update cannot be removed while other queued updates depend on it. */
export class UpdateHasDependentsError extends MatrixBackgroundUpdatesError {
  /** The update that was to be removed. */
  readonly updateName: string

  /** The queued updates whose `depends_on` names it. */
  readonly dependents: readonly string[]

  constructor(updateName: string, dependents: readonly string[]) {
    super(
      'ERR_UPDATE_HAS_DEPENDENTS',
      `Background update ${updateName} cannot be removed: ${dependents.join(', ')} depends on it`,
    )
    this.updateName = updateName
    this.dependents = dependents
  }
}

/**
 * A job or a batch needs storage capabilities the adapter does not have, or names an operation a
 * capability does not know.
 */
export class MissingCapabilityError extends MatrixBackgroundUpdatesError {
  /** The capabilities (or `capability.op` operations) that are missing. */
  readonly missing: readonly string[]

  constructor(subject: string, missing: readonly string[]) {
    super(
      'ERR_MISSING_CAPABILITY',
      `${subject} needs storage capabilities the adapter does not provide: ${missing.join(', ')}`,
    )
    this.missing = missing
  }
}

/** Two capability modules of the same name were installed in one adapter. */
export class DuplicateCapabilityError extends MatrixBackgroundUpdatesError {
  /** The capability's name. */
  readonly capability: string

  constructor(capability: string) {
    super('ERR_DUPLICATE_CAPABILITY', `A capability named ${capability} is installed already`)
    this.capability = capability
  }
}
