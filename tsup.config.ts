import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'
import { defineConfig, type Options } from 'tsup'

/**
 * The root entry is built twice. The `default` build uses Web-standard APIs only; the `node` build
 * (chosen by the `node` export condition, which Bun and Deno resolve too) swaps the crypto backend
 * for the node:crypto one. Nothing else differs.
 */
const nodeCryptoBackend: Plugin = {
  name: 'node-crypto-backend',
  setup(build) {
    build.onResolve({ filter: /\/crypto\/backend\.js$/ }, () => ({
      path: fileURLToPath(new URL('./src/matrix/crypto/backend.node.ts', import.meta.url)),
    }))
  },
}

/** Subpath entries share the root's module instance (and its error classes) at run time. */
const selfReference = ['matrix-background-updates']

/** The pure-JS crypto fallback is bundled: the package has no runtime dependencies. */
const bundled = [/^@noble\//]

const common: Options = {
  format: ['esm', 'cjs'],
  target: 'es2022',
  sourcemap: true,
  treeshake: true,
  splitting: false,
  noExternal: bundled,
  outDir: 'dist',
}

export default defineConfig([
  {
    ...common,
    entry: { index: 'src/index.ts' },
    platform: 'neutral',
    dts: true,
    clean: true,
  },
  {
    ...common,
    entry: { 'index.node': 'src/index.ts' },
    platform: 'node',
    esbuildPlugins: [nodeCryptoBackend],
  },
  {
    ...common,
    entry: {
      node: 'src/node/index.ts',
      testing: 'src/testing/index.ts',
      sqlite: 'src/sqlite/index.ts',
      postgres: 'src/postgres/index.ts',
    },
    platform: 'node',
    external: selfReference,
    // `/node` finds its worker module and sodium-native from import.meta.url, which the CommonJS
    // build gets from tsup's shim.
    shims: true,
    dts: true,
  },
  {
    // The module the threads of `resignWorkers()` run, loaded by path, never imported: an ES
    // module with its own copy of the pipeline and the node:crypto backend.
    ...common,
    entry: { 'resign-worker': 'src/node/resign-worker.ts' },
    format: ['esm'],
    platform: 'node',
    esbuildPlugins: [nodeCryptoBackend],
  },
  {
    // Node only, and loads the optional sodium-native through createRequire(import.meta.url), which
    // the CommonJS build gets from tsup's shim.
    ...common,
    entry: { sodium: 'src/sodium/index.ts' },
    platform: 'node',
    external: selfReference,
    shims: true,
    dts: true,
  },
  {
    // The operator CLI (`bin`): an ES module only, loading the package by its own name.
    ...common,
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    platform: 'node',
    external: selfReference,
    banner: { js: '#!/usr/bin/env node' },
  },
])
