// The Cosmos stand-in in its own process: the documents it holds must not count as the sync's memory.
// Prints one line `READY {"endpoint":...}` and runs until SIGTERM or stdin closes.
import { startCosmosStandIn } from '../../local/cosmos/cosmos.server';
import { runChild, serveUntilStopped } from './serve.child';

const main = async (): Promise<void> => {
  const cosmos = await startCosmosStandIn();
  serveUntilStopped({ endpoint: cosmos.endpoint, key: cosmos.key }, () => cosmos.close());
};

runChild(main);
