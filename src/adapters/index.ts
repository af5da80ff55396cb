export * from './key-provider.js'
