/** Prints the Debian packages of the programs strata runs, one per line: what scripts/install.sh installs. */
import { runtimePackages } from '../src/exec/tools';

for (const name of runtimePackages()) console.log(name);
