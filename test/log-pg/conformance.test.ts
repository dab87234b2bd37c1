import { conformance } from './conformance.js';
import { DRIVERS } from './drivers.js';

for (const driver of DRIVERS) conformance(driver);
