import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vitest/config'
import { SummaryLineReporter } from './test/summary-reporter.js'

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

/** Unit tests run on Node, so they get the node:crypto backend, as the `node` build does. */
const nodeCryptoBackend: Plugin = {
  name: 'node-crypto-backend',
  enforce: 'pre',
  resolveId(id) {
    return /\/crypto\/backend\.js$/.test(id) ? src('matrix/crypto/backend.node.ts') : null
  },
}

export default defineConfig({
  plugins: [nodeCryptoBackend],
  resolve: {
    alias: [
      { find: /^matrix-background-updates$/, replacement: src('index.ts') },
      { find: /^matrix-background-updates\/(.*)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    reporters: ['default', new SummaryLineReporter()],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
