// The Cosmos stand-in in its own process: the documents it holds must not count as the sync's memory.
// Prints one line `READY {"endpoint":...}` and runs until SIGTERM or stdin closes.
import { startCosmosStandIn } from '../../local/cosmos/cosmos.server';

const main = async (): Promise<void> => {
  const cosmos = await startCosmosStandIn();
  process.stdout.write(`READY ${JSON.stringify({ endpoint: cosmos.endpoint, key: cosmos.key })}\n`);
  const stop = () => {
    cosmos.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
};

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
