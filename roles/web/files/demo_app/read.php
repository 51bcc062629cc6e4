<?php
// ha_lamp demo application: the read-only page.
// Reads the latest visit through the VIP's readers port (HAProxy :3307, replicas within the lag
// bound) and prints it as key=value lines, like index.php. It starts no session and writes
// nothing, so it keeps answering 200 while the database writer is missing (a switchover fence,
// a failover). When the readers port has no replica to offer, it falls back once to the writer
// port (the primary as a reader of last resort). Both connections fail fast: connect and
// handshake are bounded by web_db_read_connect_timeout (1 s by default).
declare(strict_types=1);

require_once __DIR__ . '/common.php';

$errors = [];
$result = null;
try {
    $timeout = (int) (HaLampConfig::get()['db']['read_connect_timeout'] ?? 1);
    foreach (['reader' => 'connectReader', 'writer' => 'connectWriter'] as $via => $connect) {
        try {
            $db = HaLampConfig::$connect($timeout, $timeout);
            try {
                $result = [$via, ...read_latest($db)];
            } finally {
                $db->close();
            }
            break;
        } catch (Throwable $e) {
            $errors[] = "$via: " . $e->getMessage();
        }
    }
} catch (Throwable $e) {
    $errors[] = 'config: ' . $e->getMessage();
}

if ($result === null) {
    http_response_code(503);
    header('Retry-After: 1');
    echo "web_node={$node}\nrelease={$release}\nerror=database readers unavailable, retry\n";
    error_log('ha_lamp demo read: ' . implode('; ', $errors));
    exit;
}

[$via, $dbNode, $row] = $result;
print_latest($node, $dbNode, $via, $release, $row);
