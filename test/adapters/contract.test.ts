import { runAdapterContract } from 'matrix-background-updates/testing'
import { describe, expect, it } from 'vitest'
import { ADAPTERS } from './adapters.js'

for (const adapter of ADAPTERS) {
  describe(adapter.name, () => {
    runAdapterContract(adapter.make, { describe, it, expect })
  })
}
