// Real power cuts on a loop-mounted ext4 image (see power-cut-helpers.ts). One file per file
// system, so the two run side by side.
import { powerCutTest } from './power-cut-helpers.ts';

powerCutTest('ext4');
