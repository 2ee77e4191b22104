export { EvomemMemory, evomemMemoryConfig, type EvomemMemoryOptions } from './EvomemMemory.js';
export { EvomemMem0Embedder, type MemoryAction } from './EvomemMem0Embedder.js';
