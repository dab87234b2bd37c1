import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import tilesPlugin, { registerTileRoutes } from '../tiles/routes.js';
import type { OpenedShards } from './open.js';

/**
 * Each shard is its own tlog-tiles log (its own origin), with its tiles in its own directory
 * (`tiles` for the first tree, `tiles/<treeID>` after it). The root `/checkpoint` and `/tile/…`
 * serve the active shard; `/shards/<treeID>/checkpoint` and `/shards/<treeID>/tile/…` serve any
 * shard. A frozen shard's publisher completes tiles missing at its final size once, then idles.
 */
export function registerShardTiles(app: FastifyInstance, dataDir: string, shards: OpenedShards): void {
  for (const s of shards.inactive) {
    void app.register(tilesPlugin, {
      log: s.log,
      dir: join(dataDir, s.record.tiles),
      prefix: `/shards/${s.record.treeId}`,
    });
  }
  const active = shards.active.record;
  void app.register(async (scope) => registerTileRoutes(scope, join(dataDir, active.tiles)), {
    prefix: `/shards/${active.treeId}`,
  });
}
