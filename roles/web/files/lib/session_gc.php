<?php
// Managed by onprem.ha_lamp.web.
// Deletes expired sessions from the shared table. Run by ha-lamp-session-gc.timer on every
// web node: the DELETE is idempotent, so concurrent runs are harmless and GC keeps working
// as long as any one web node is up. Exit code 1 (and a journal line) when the DB is unreachable.
declare(strict_types=1);

require_once __DIR__ . '/HaLampConfig.php';
require_once __DIR__ . '/HaLampSessionHandler.php';

try {
    $config = HaLampConfig::get();
    if (empty($config['sessions']['enabled'])) {
        fwrite(STDOUT, "ha_lamp session gc: database sessions disabled, nothing to do\n");
        exit(0);
    }
    $lifetime = (int) ($config['sessions']['lifetime'] ?? 1440);
    $handler = new HaLampSessionHandler($config['sessions']);
    $handler->connect();
    $deleted = $handler->gcBatched($lifetime);
    $handler->close();
    fwrite(STDOUT, "ha_lamp session gc: deleted {$deleted} expired session(s)\n");
    exit(0);
} catch (Throwable $e) {
    fwrite(STDERR, 'ha_lamp session gc failed: ' . $e->getMessage() . "\n");
    exit(1);
}
