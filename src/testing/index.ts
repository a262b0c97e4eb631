export { FaultInjectingDirectory } from './fault-injecting-directory.js';
export { mulberry32 } from './prng.js';
export {
  CRASH_VARIANTS,
  type CrashOptions,
  type CrashVariant,
  type DiskCall,
  type DiskCallKind,
  type FaultRule,
  InjectedFault,
  SimulatedDisk,
} from './simulated-disk.js';
