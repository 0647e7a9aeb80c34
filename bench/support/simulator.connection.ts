import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../../local/dataverse/simulator.options';
import { createDataverseConnection, type DataverseConnection } from '../../shared/dataverse';

/** Where a simulator child listens, as its READY line says. */
export interface SimulatorAddress {
  url: string;
  tenantId: string;
  tokenEndpoint: string;
}

/** One Dataverse connection (one governor) to a benchmark's simulator, as the default local client. */
export const connectToBenchSimulator = (sim: SimulatorAddress): DataverseConnection =>
  createDataverseConnection({
    auth: {
      url: sim.url,
      tenantId: sim.tenantId,
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      tokenEndpoint: sim.tokenEndpoint,
    },
  });
